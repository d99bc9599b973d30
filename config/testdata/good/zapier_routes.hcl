ghl {
  location_id   = "loc1"
  private_token = credential("ghl-pit")
  scopes        = ["contacts.readonly", "contacts.write"]
}
ptd {
  driver = "zapier"
  zapier {
    add_client     = env("PTSYNC_ZAP_ADD_CLIENT")
    add_to_group   = env("PTSYNC_ZAP_ADD_TO_GROUP")
    assign_package = env("PTSYNC_ZAP_ASSIGN_PACKAGE")
    print_only     = env("PTSYNC_ZAP_PRINT_ONLY")
    reminder       = env("PTSYNC_ZAP_REMINDER")
    trigger_secret = env("PTSYNC_ZAP_TRIGGER_SECRET")
  }
}
mapping {
  initial_winner   = "ghl"
  default_conflict = "manual"
  phone_region     = "GB"
  time_zone        = "Europe/London"
  field "email" {}
  field "groups" {
    ghl       = "tags"
    ptd       = "groups"
    direction = "ghl_to_ptd"
  }
  field "surname" {
    ghl         = "lastName"
    ptd         = "lastName"
    conflict    = "ghl"
    allow_empty = true
  }
}
route "vip" {
  when    = contains(tags, "vip") || endswith(lower(email), "@vip.example")
  group   = "VIP Coaching"
  package = "12-week-transformation"
}
route "lapsed" {
  when   = contains(tags, "lapsed")
  access = "print_only"
}
reminders {
  window  = "2h"
  message = "Hi {{first_name}}, {{ title }} is due {{due}}"
}
deletes {
  policy        = "print_only"
  confirmations = 3
}
webhooks {
  listen = "0.0.0.0:8911"
}
