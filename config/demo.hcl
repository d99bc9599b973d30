# The configuration `ptsync demo` runs with: both simulators on loopback, a private token, the
# rest driver, fast schedules. Values come from the Env that Demo builds; nothing is read from
# the process environment.
ghl {
  base_url      = env("DEMO_GHL_URL")
  location_id   = env("DEMO_LOCATION_ID")
  private_token = env("DEMO_GHL_TOKEN")
  scopes        = ["contacts.readonly", "contacts.write"]
  children_period = "1h"
  timeout       = "10s"
}
ptd {
  driver = "rest"
  rest {
    base_url = env("DEMO_PTD_URL")
    api_key  = env("DEMO_PTD_API_KEY")
    timeout  = "10s"
  }
}
store { path = env("DEMO_STORE_PATH") }
schedule "contacts" { cron = "@every 2s" }
schedule "sweep" { cron = "@every 30s" }
schedule "children" { cron = "@every 5s" }
schedule "ptd" { cron = "@every 2s" }
schedule "reconcile" { cron = "@every 2s" }
schedule "push" { cron = "@every 1s" }
schedule "reminders" { cron = "@every 10s" }
mapping {
  initial_winner   = "ptd"
  default_conflict = "newest"
  phone_region     = "US"
}
route "vip" {
  when    = contains(tags, "vip")
  group   = "VIP Coaching"
  package = "12-week-transformation"
  access  = "online"
}
route "newsletter" {
  when   = contains(tags, "newsletter") && !contains(tags, "client")
  access = "print_only"
}
reminders {
  window  = "24h"
  message = "Reminder: {{title}} is due {{due}}"
}
pusher {
  max_attempts = 5
  backoff_base = "100ms"
  backoff_max  = "2s"
}
metrics { listen = env("DEMO_METRICS_LISTEN") }
admin { listen = "127.0.0.1:0" }
log {
  level  = "info"
  format = "text"
}
