package cluster

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TLSFiles are the PEM files of an etcd client connection; all empty means plain HTTP.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Connect opens an etcd client to endpoints and checks that one answers within dialTimeout,
// so a wrong address fails at start and not at the first lease. The client retries on its own
// afterwards; the caller closes it.
func Connect(ctx context.Context, endpoints []string, files TLSFiles, dialTimeout time.Duration) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: dialTimeout, Logger: zap.NewNop(),
		DialKeepAliveTime: dialTimeout, DialKeepAliveTimeout: dialTimeout}
	if files != (TLSFiles{}) {
		info := transport.TLSInfo{TrustedCAFile: files.CAFile, CertFile: files.CertFile, KeyFile: files.KeyFile}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("cannot load etcd tls files: %w", err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to etcd %v: %w", endpoints, err)
	}
	probe, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if _, err := cli.Get(probe, "health-probe", clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("cannot reach etcd %v: %w", endpoints, err)
	}
	return cli, nil
}
