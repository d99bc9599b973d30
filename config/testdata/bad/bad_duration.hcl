ghl {
  location_id    = "loc1"
  private_token  = env("PTSYNC_GHL_PIT")
  search_overlap = "2 minutes"
  timeout        = 30
  children_period = "-1h"
}
ptd {
  driver          = "rest"
  children_period = "30s"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
