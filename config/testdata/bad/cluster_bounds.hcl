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
  endpoints    = []
  replica      = "r1"
  lease_ttl    = "10m"
  snapshot_dir = ""
}
cluster {
  endpoints    = ["http://127.0.0.1:2379"]
  replica      = "r2"
  lease_ttl    = "10m"
  snapshot_dir = "/srv/s"
}
