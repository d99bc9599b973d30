ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
}
ptd {
  driver = "soap"
}
mapping {
  initial_winner = "both"
  time_zone      = "Mars/Olympus_Mons"
  field "email" {
    direction  = "sideways"
    normalizer = "EMAIL"
  }
}
deletes { policy = "purge" }
log {
  level  = "verbose"
  format = "xml"
}
