ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
  rate {
    daily_share = 1.5
    burst       = -1
    daily       = 2.5
  }
  search_page_limit = 1000
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
