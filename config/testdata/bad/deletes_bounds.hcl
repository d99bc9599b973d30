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
deletes {
  policy    = "tag"
  max_share = 50
  max_count = 0
}
schedule "ptd_sweep" { cron = "every hour" }
