# One replica of three: etcd over TLS, defaults for the lease and the snapshot period.
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
  endpoints    = ["https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"]
  replica      = "ptsync-b"
  snapshot_dir = "/srv/ptsync-snapshots"
  tls {
    ca_file   = "secrets/etcd-ca.pem"
    cert_file = "secrets/etcd-client.pem"
    key_file  = "secrets/etcd-client-key.pem"
  }
}
