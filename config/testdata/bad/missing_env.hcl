ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_NOT_SET")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_EMPTY")
  }
}
