ghl {
  location_id = "loc1"
  private_token = env("PTSYNC_GHL_PIT"
}
