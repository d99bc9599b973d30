ghl {
  location_id   = "loc1"
  private_token = credential("no-such-credential")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = file("missing/ptd.key")
  }
}
webhooks {
  ghl_public_key = credential("../escape")
}
