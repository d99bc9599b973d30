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
admin { listen = "0.0.0.0:8913" }
metrics { listen = "9817" }
pusher {
  backoff_base = "10s"
  backoff_max  = "1s"
}
reminders { message = "Due: {{when}}" }
webhooks { ghl_public_key = "not-a-key" }
