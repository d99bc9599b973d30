ghl {
  location_id = "loc/1"
  base_url    = "services.leadconnectorhq.com"
  scopes      = ["contacts.write"]
  oauth {
    client_id     = ""
    client_secret = env("PTSYNC_GHL_CLIENT_SECRET")
    scopes        = ["contacts.write", ""]
    redirect_url  = "ftp://127.0.0.1/callback"
  }
}
ptd {
  driver = "rest"
  zapier {
    add_client = env("PTSYNC_LOCATION")
  }
}
