ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
}
ptd {
  driver = "zapier"
  zapier {
    add_client     = env("PTSYNC_ZAP_ADD_CLIENT")
    trigger_secret = env("PTSYNC_ZAP_TRIGGER_SECRET")
  }
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
route "vip" {
  when    = contains(tags, "vip")
  group   = "VIP"
  package = "12-week"
  access  = "print_only"
}
reminders {}
deletes { policy = "delete" }
