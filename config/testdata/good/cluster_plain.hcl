# A cluster on loopback without TLS, a short lease and a frequent snapshot (a test bench).
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
  endpoints       = ["http://127.0.0.1:2379"]
  replica         = "r1"
  lease_ttl       = "5s"
  snapshot_dir    = "snapshots"
  snapshot_period = "30s"
}
