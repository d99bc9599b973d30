ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
webhooks {
  ghl_public_key = [
    "2f9d0b7c6a5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b",
    "not-a-key",
    <<-PEM
-----BEGIN RSA PUBLIC KEY-----
MIGJAoGBAM6IoklhP0eOtKE4d+2B9tbK5fSsMw2NYvBv4BMplaTmJyo8DSscvEMU
I7BxFHfL/oZsyshR7lwdE3HkXmuwavj7uNpDrypnFBwVpZjcuc9lpzz7nHqqvNoI
sSqqayK/n3r2UfNu7ft5S2Oom+hcAwXvrqYvCqeg8Jl334dk5RHnAgMBAAE=
-----END RSA PUBLIC KEY-----
    PEM
    ,
    <<-PEM
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWBNWlsjWl8iymlxj1I2Qt+bk5yoG
ToamJ6jADkDabxEkTdg4+nAPODrGEyR6fcG3rvW6rR2+IsV9TSnSYc8EJA==
-----END PUBLIC KEY-----
    PEM
    ,
    "2f9d0b7c6a5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b",
    42,
  ]
}
