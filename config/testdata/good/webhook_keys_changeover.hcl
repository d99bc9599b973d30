# HighLevel's changeover: the legacy RSA key (x-wh-signature, here PKCS#1 PEM) and the
# Ed25519 key (x-ghl-signature, here hex) trusted at once.
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
    <<-PEM
-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAva7YPzdbpHIZCKUZGNR/FOMZaRyWyDwEN6zJtlqXUyUH4c1FOWWw
K0IzhLPeMmXb4x+/h4kOQNQ+Difv6SgjmWOJHeMQGb5BKuqbSxNevIYRDuPBwyzN
kD1R36/yde18ouFO0q3NP9m3izrv6mBMnjSkTTRHoFMNsqwJ6CkUw55q2LWRRVpK
MRfbeIx2dtvspm5naJqkmxbTsRIdbHPJN1dD4I6Q/4B4oXXHaSqbZR+pU+NVFq1u
2Z/LxMF1N4tiVDyQFdtSwO/etFNDIVypUNdrVghWOZLmivAOgrgJC9qEYzoljw9G
I6IvVhPupKsHjV6YU2P82UzKeDQQ9uaGmQIDAQAB
-----END RSA PUBLIC KEY-----
    PEM
    ,
    "2f9d0b7c6a5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b",
  ]
}
