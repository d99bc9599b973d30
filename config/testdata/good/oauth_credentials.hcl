ghl {
  base_url    = "http://127.0.0.1:8910/"
  location_id = env("PTSYNC_LOCATION")
  oauth {
    client_id     = "client-1"
    client_secret = credential("ghl-client-secret")
    scopes        = ["contacts.readonly"]
  }
  rate {
    burst       = 50
    interval    = "5s"
    daily       = 1000
    daily_share = 1
  }
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = file("secrets/ptd.key")
    timeout  = "5s"
  }
}
store { path = "data/ptsync.db" }
schedule "sweep" { cron = "CRON_TZ=Europe/London 0 4 * * *" }
schedule "push" { cron = "*/2 * * * *" }
webhooks {
  ghl_public_key = "2f9d0b7c6a5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b"
}
log {
  level  = "debug"
  format = "text"
}
