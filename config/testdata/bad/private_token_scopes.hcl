ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
  scopes        = ["contacts.write"]
  timeout       = "500ms"
}
ptd {
  driver = "zapier"
  zapier {
    add_client = env("PTSYNC_LOCATION")
    timeout    = "1m"
  }
}
deletes {
  policy        = "tag"
  confirmations = 0
}
