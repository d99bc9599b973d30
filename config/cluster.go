package config

import (
	"net/url"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Cluster configures running as one of several replicas that share the locations through
// etcd (docs/scale-out.md). Config.Cluster is nil without a cluster block: ptsync then runs
// alone, exactly as it does without this feature.
type Cluster struct {
	// Endpoints are etcd's client URLs (http:// or https://, host:port), at least one.
	Endpoints []string
	// TLS is set by a tls block; then every endpoint is https://.
	TLS *ClusterTLS
	// Replica names this process among the members: unique in the cluster, stable across
	// restarts (a restart under the same name waits for its previous lease to expire).
	Replica string
	// LeaseTTL is the etcd lease under which membership and ownership are held, in whole
	// seconds. The replica fences itself (stops every write) after LeaseTTL/2 without a
	// successful renewal, so another replica can take over after at most LeaseTTL.
	LeaseTTL time.Duration
	// SnapshotDir is the shared directory (the same file system on every replica) where each
	// owned location's mirror is snapshotted and from which a new owner restores it.
	SnapshotDir string
	// SnapshotPeriod is how often an owned location's mirror is snapshotted while it runs; a
	// graceful handoff snapshots in any case.
	SnapshotPeriod time.Duration
}

// ClusterTLS are the PEM files of the etcd client connection: CAFile verifies the servers,
// CertFile and KeyFile (both or neither) authenticate this replica.
type ClusterTLS struct {
	CAFile, CertFile, KeyFile string
}

// Cluster defaults and bounds. The lease bounds keep the fence meaningful: below 2s etcd
// itself refuses the TTL, above 5m a dead replica's locations would wait too long.
const (
	DefaultClusterLeaseTTL       = 15 * time.Second
	DefaultClusterSnapshotPeriod = 5 * time.Minute
	minClusterLeaseTTL           = 2 * time.Second
	maxClusterLeaseTTL           = 5 * time.Minute
	minClusterSnapshotPeriod     = 10 * time.Second
)

var replicaNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// decodeCluster decodes the cluster block, if any, into cfg.Cluster, defaults applied.
func (d *decoder) decodeCluster(top *hcl.BodyContent, cfg *Config) {
	b := d.single(top, "cluster")
	if b == nil {
		return
	}
	c := d.content(b.Body, &hcl.BodySchema{
		Attributes: required(attrs("endpoints", "replica", "lease_ttl", "snapshot_dir", "snapshot_period"),
			"endpoints", "replica", "snapshot_dir"),
		Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
	})
	cl := &Cluster{LeaseTTL: DefaultClusterLeaseTTL, SnapshotPeriod: DefaultClusterSnapshotPeriod}
	cfg.Cluster = cl
	if tb := d.single(c, "tls"); tb != nil {
		cl.TLS = d.decodeClusterTLS(tb)
	}
	if a := d.strList(c.Attributes, "endpoints", &cl.Endpoints); a != nil {
		d.checkEndpoints(a, cl)
	}
	if a := d.nonEmpty(c.Attributes, "replica", &cl.Replica); a != nil && !replicaNameRE.MatchString(cl.Replica) {
		d.errorAt(a.Expr.Range(), "Invalid replica", "replica must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit (it is part of etcd keys and of a header), got %q", cl.Replica)
	}
	if a := d.duration(c.Attributes, "lease_ttl", minClusterLeaseTTL, &cl.LeaseTTL); a != nil {
		switch {
		case cl.LeaseTTL > maxClusterLeaseTTL:
			d.errorAt(a.Expr.Range(), "Invalid lease_ttl", "lease_ttl must be at most %s: a dead replica's locations wait that long, got %s", fmtDuration(maxClusterLeaseTTL), cl.LeaseTTL)
		case cl.LeaseTTL%time.Second != 0:
			d.errorAt(a.Expr.Range(), "Invalid lease_ttl", "lease_ttl must be whole seconds (etcd leases count seconds), got %s", cl.LeaseTTL)
		}
	}
	if a := d.nonEmpty(c.Attributes, "snapshot_dir", &cl.SnapshotDir); a != nil {
		cl.SnapshotDir = d.path(cl.SnapshotDir)
	}
	d.duration(c.Attributes, "snapshot_period", minClusterSnapshotPeriod, &cl.SnapshotPeriod)
}

// checkEndpoints requires absolute http(s)://host:port URLs, https:// exactly when a tls
// block is present, so that a TLS setting is never silently unused nor missing.
func (d *decoder) checkEndpoints(a *hcl.Attribute, cl *Cluster) {
	if len(cl.Endpoints) == 0 {
		d.errorAt(a.Expr.Range(), "Invalid endpoints", "endpoints must list at least one etcd client URL, e.g. [\"https://10.0.0.1:2379\"]")
		return
	}
	for _, e := range cl.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" || u.Path != "" {
			d.errorAt(a.Expr.Range(), "Invalid endpoints", "each endpoint must be http://host:port or https://host:port, got %q", e)
			continue
		}
		if (u.Scheme == "https") != (cl.TLS != nil) {
			d.errorAt(a.Expr.Range(), "Invalid endpoints", "endpoint %q: use https:// endpoints with a tls block and http:// without one", e)
		}
	}
}

// decodeClusterTLS reads the tls block's file names and checks that each file can be read.
func (d *decoder) decodeClusterTLS(b *hcl.Block) *ClusterTLS {
	c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("ca_file", "cert_file", "key_file")})
	t := &ClusterTLS{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"ca_file", &t.CAFile}, {"cert_file", &t.CertFile}, {"key_file", &t.KeyFile}} {
		a := d.nonEmpty(c.Attributes, f.name, f.dst)
		if a == nil {
			continue
		}
		*f.dst = d.path(*f.dst)
		if _, err := d.env.ReadFile(*f.dst); err != nil {
			d.errorAt(a.Expr.Range(), "Cannot read "+f.name, "%s %s: %v", f.name, *f.dst, err)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		d.errorAt(b.DefRange, "Incomplete client certificate", "set both cert_file and key_file, or neither")
	}
	return t
}
