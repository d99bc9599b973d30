ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
cluster {
  endpoints       = ["https://10.0.0.1:2379", "10.0.0.2:2379", "http://10.0.0.3"]
  replica         = "Replica_B"
  lease_ttl       = "1500ms"
  snapshot_period = "1s"
  tls {
    ca_file  = "missing-ca.pem"
    key_file = "key.pem"
  }
}
