# ptsync configuration — the example shipped with the binary.
#
# `ptsync check-config --config /etc/ptsync/config.hcl` validates a file like this one and prints
# every problem as `file:line:col: summary: detail`. Unknown blocks and attributes are errors.
# Every attribute below that is optional shows its default; docs/config.md lists them all.
#
# Secrets are never written here. A secret attribute must be one of
#   env("NAME")        the environment variable NAME
#   file("path")       the contents of a file (trailing newlines removed; relative to this file)
#   credential("name") $CREDENTIALS_DIRECTORY/name, i.e. systemd LoadCredential=name:/path
# Non-secret attributes may use the same three calls, e.g. location_id = env("GHL_LOCATION").
# Durations are Go durations: "90s", "5m", "1h30m". Relative paths are relative to this file.

# HighLevel (GHL) sub-account to mirror.
ghl {
  base_url    = "https://services.leadconnectorhq.com" # API root; point it at the simulator in staging
  location_id = "ve9EPM428h8vShlRW1KT"                 # required: the sub-account (location) id

  # Authentication: exactly one of an oauth block or private_token.
  #
  # OAuth 2.0 authorization-code install. Run `ptsync auth` once; ptsync then refreshes the
  # rotating, single-use refresh token itself and persists each new pair (0600, fsync) before use.
  oauth {
    client_id     = "66a0f0c1e2d3b4a5c6d7e8f9-m1abcdef"
    client_secret = credential("ghl-client-secret")
    token_file    = "/var/lib/ptsync/ghl-token.json" # default: ghl-token.json beside store.path
    # Requested at install. Without contacts.write ptsync runs read-only and never writes to HighLevel.
    scopes        = ["contacts.readonly", "contacts.write"]
    authorize_url = "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"
    # token_url   = "https://services.leadconnectorhq.com/oauth/token"   # default: base_url + /oauth/token
    redirect_url  = "http://127.0.0.1:8912/callback" # must match the app's registered redirect URI
  }

  # Alternative: a Private Integration Token of the sub-account (delete the oauth block first).
  # Its scopes are fixed when the token is created; declare them so ptsync knows whether it may write.
  # private_token = credential("ghl-pit")
  # scopes        = ["contacts.readonly", "contacts.write"]

  # Request budget per location, shaped like HighLevel's limits and corrected at run time
  # from the X-RateLimit-* response headers.
  rate {
    burst       = 100   # requests per interval
    interval    = "10s"
    daily       = 200000
    daily_share = 0.9   # never spend more than this share of the daily cap, in (0, 1]
  }

  search_page_limit = 500    # POST /contacts/search page size, 1..500
  sweep_page_limit  = 100    # GET /contacts/ page size for the full sweep, 1..100
  search_overlap    = "2m"   # incremental search re-reads this window before the cursor (which stays this far behind the request time)
  children_period   = "24h"  # every contact's tasks/notes/appointments are refreshed at least this often (PT Distinction has its own, below)
  timeout           = "30s"  # per-request timeout
}

# PT Distinction (PTD): which adapter driver talks to it, and its settings.
ptd {
  driver = "rest" # "rest" (the documented REST contract, docs/ptd-rest.md) or "zapier"
  # PTD reports no task or note changes: a coach's new task on a client that did not otherwise
  # change reaches ptsync (and then HighLevel) only when this rotation re-reads that client,
  # at the latest one period later. `ptsync status` ("ptd tasks") and the metric
  # ptsync_ptd_children_lag_seconds show how late it runs. Each re-read costs two requests
  # (tasks, notes): with 2,000 clients, "1h" is 4,000 requests an hour, about 67 a minute
  # (docs/config.md works it out). Default "1h", or ghl.children_period when shorter.
  children_period = "1h"

  # driver = "rest": a PTD partner API or in-house bridge speaking docs/ptd-rest.md.
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = credential("ptd-api-key")
    timeout  = "30s"
  }

  # driver = "zapier": PTD's Zapier actions behind catch-hook URLs (the URLs are secrets), and
  # PTD's Zapier triggers posted back to the webhooks listener. A missing hook means the
  # capability is absent; check-config refuses a file that needs one it lacks (a route with
  # group needs add_to_group, package needs assign_package, access = "print_only" and the
  # print_only delete policy need print_only, a reminders block needs reminder).
  # zapier {
  #   add_client     = env("PTSYNC_ZAP_ADD_CLIENT")      # required
  #   add_to_group   = env("PTSYNC_ZAP_ADD_TO_GROUP")
  #   assign_package = env("PTSYNC_ZAP_ASSIGN_PACKAGE")
  #   print_only     = env("PTSYNC_ZAP_PRINT_ONLY")
  #   reminder       = env("PTSYNC_ZAP_REMINDER")
  #   trigger_secret = env("PTSYNC_ZAP_TRIGGER_SECRET") # needs a webhooks block
  #   timeout        = "30s"
  # }
}

# The bbolt mirror: records, links, cursors, outbox, history.
store {
  path = "/var/lib/ptsync/ptsync.db"
}

# Cron schedules, one block per job. Specs are 5-field cron ("min hour dom month dow") or a
# descriptor (@every 5m, @hourly, @daily, ...), evaluated in UTC unless prefixed CRON_TZ=Area/City.
# Jobs without a block keep the default shown.
schedule "contacts" { cron = "@every 1m" }   # incremental contact search
schedule "sweep" { cron = "17 3 * * *" }     # full contact listing: finds deletes and misses
schedule "children" { cron = "@every 5m" }   # tasks, notes, appointments under the rate budget
schedule "ptd" { cron = "@every 1m" }        # PTD clients and their children
schedule "reconcile" { cron = "@every 1m" }  # three-way merge of dirty links into the outbox
schedule "push" { cron = "@every 30s" }      # drain the outbox to both sides
schedule "reminders" { cron = "@every 15m" } # send reminders for tasks nearing their due date
schedule "ptd_sweep" { cron = "47 3 * * *" } # full PTD client listing: finds clients deleted in PTD (rest driver only)

# How contact fields correspond and how conflicts resolve.
mapping {
  initial_winner   = "ptd"    # who wins a field when no agreed base exists yet: ghl | ptd
  default_conflict = "newest" # both sides changed: newest | ghl | ptd | manual (queued for the operator)
  phone_region     = "US"     # region for phone numbers written without a country code

  # One block per field; the label is the field's name and the default for ghl and ptd.
  # Declaring any field replaces the default set (email, firstName, lastName, phone, tags, timezone).
  field "email" {
    ghl         = "email"  # HighLevel contact field
    ptd         = "email"  # PTD client field
    direction   = "both"   # both | ghl_to_ptd | ptd_to_ghl
    normalizer  = "email"  # email | phone | name | time | tags | none (default chosen from the ghl name)
    conflict    = "newest" # default: default_conflict
    allow_empty = false    # may an empty value overwrite a non-empty one?
  }
  field "firstName" {
    normalizer = "name"
  }
  field "lastName" {
    normalizer = "name"
  }
  field "phone" {
    normalizer = "phone"
  }
  field "tags" {
    # Tags merge as sets and are pushed as deltas; list fields need the tags normalizer.
    normalizer = "tags"
  }
  field "timezone" {
    direction = "ghl_to_ptd"
  }
}

# Routing of contacts to PTD groups / packages / access, tried in file order; the first match
# wins. `when` is an HCL expression over the contact's fields (id, email, firstName, lastName,
# name, phone, companyName, timezone, source, type, assignedTo, address1, city, state, country,
# postalCode, website, dateOfBirth, dateAdded, dateUpdated, tags, dnd) with the functions
# contains, lower, upper, trim, length, startswith, endswith, regex, regexall, replace, split,
# join, coalesce, can and try — the same language as `ptsync query --where`.
route "vip" {
  when    = contains(tags, "vip")
  group   = "VIP Coaching"
  package = "12-week-transformation"
  access  = "online" # online | print_only
}
route "newsletter-only" {
  when   = contains(tags, "newsletter") && !contains(tags, "client")
  access = "print_only"
}

# Reminders sent to PTD for tasks due within `window`. Without this block no reminders are sent.
# Placeholders: {{title}} {{due}} {{first_name}} {{last_name}} {{email}}.
reminders {
  window  = "24h"
  message = "Reminder: {{title}} is due {{due}}"
}

# A record deleted on one side is held in quarantine (it clears itself if the record reappears);
# after `confirmations` consecutive sweeps confirm the delete, the policy applies to the survivor.
# If the record comes back later, print_only and tag are undone (delete cannot be).
# A sweep that would quarantine more than max_share of the records the mirror holds, or more
# than max_count records, or whose listing contradicts itself (empty, or fewer rows than its
# total), is held as suspect: nothing is confirmed until `ptsync quarantine approve`.
deletes {
  policy        = "ignore" # ignore | print_only | tag | delete
  confirmations = 2
  tag           = "ptsync-deleted" # added to the survivor under policy "tag"
  max_share     = 0.5              # (0, 1]: share of the mirrored records one sweep may quarantine
  max_count     = 50               # records one sweep may quarantine
}

# Outbox retries: full-jitter exponential backoff from backoff_base up to backoff_max.
pusher {
  max_attempts = 8
  backoff_base = "1s"
  backoff_max  = "5m"
}

# Optional real-time intake: HighLevel webhooks and PTD Zapier triggers. Without this block
# ptsync relies on polling alone. HighLevel signs with x-ghl-signature (Ed25519) since
# 2026-07-01; its key comes from the marketplace app's settings. An Ed25519 key verifies
# x-ghl-signature, an RSA key (such as the one printed in HighLevel's WebhookAuthentication.md)
# the legacy x-wh-signature. For the changeover, give both: ghl_public_key = [file("a"), file("b")].
webhooks {
  listen         = "127.0.0.1:8911"
  ghl_public_key = file("/etc/ptsync/ghl-webhook.pem") # PEM (PUBLIC KEY or RSA PUBLIC KEY), or an Ed25519 key in base64 or hex
  replay_window  = "5m"                                 # reject events whose timestamp is older
  max_body_bytes = 1048576
}

# Prometheus /metrics and health endpoints.
metrics {
  listen     = "127.0.0.1:9817"
  web_config = "" # exporter-toolkit web config file (TLS, basic auth); "" serves plain HTTP
}

# Loopback endpoint the CLI (status, plan) queries while the service runs. Loopback only.
admin {
  listen = "127.0.0.1:8913"
}

log {
  level  = "info" # trace | debug | info | warn | error
  format = "json" # json | text
}

# Optional: run as one of several replicas that share the locations through etcd
# (docs/scale-out.md). Without this block ptsync runs alone.
# cluster {
#   endpoints       = ["https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"]
#   replica         = "ptsync-a"               # unique and stable; sent as X-Ptsync-Replica on writes
#   lease_ttl       = "15s"                    # writes stop after lease_ttl/2 without a renewal
#   snapshot_dir    = "/srv/ptsync-snapshots"  # shared by every replica
#   snapshot_period = "5m"
#   tls {
#     ca_file   = "/etc/ptsync/etcd-ca.pem"
#     cert_file = "/etc/ptsync/etcd-client.pem"
#     key_file  = "/etc/ptsync/etcd-client-key.pem"
#   }
# }
