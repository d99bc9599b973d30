ghl {
  location_id   = "loc1"
  private_token = "pit-6a1b2c3d-literal"
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = lower(env("PTSYNC_PTD_API_KEY"))
  }
}
