package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Member is one live replica as registered in etcd.
type Member struct {
	Name  string
	Lease string // hex lease id
}

// readState returns the live members (sorted by name) and the owner of each held location.
func readState(ctx context.Context, cli *clientv3.Client, prefix string) ([]Member, map[string]string, error) {
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read cluster state: %w", err)
	}
	var members []Member
	owners := map[string]string{}
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), prefix)
		switch {
		case strings.HasPrefix(k, "members/"):
			members = append(members, Member{Name: strings.TrimPrefix(k, "members/"), Lease: string(kv.Value)})
		case strings.HasPrefix(k, "owners/"):
			owners[strings.TrimPrefix(k, "owners/")] = string(kv.Value)
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	return members, owners, nil
}

func memberNames(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// Status is the cluster as etcd holds it: what `ptsync cluster status` prints.
type Status struct {
	Members []Member
	// Owners maps each held location to its owner's name.
	Owners map[string]string
	// Moves are the locations whose owner is not (or not yet) the one Assign names.
	Moves []Move
}

// Move is a location in transit: From holds it ("" when nobody does), To should.
type Move struct {
	Location, From, To string
}

// ReadStatus reads members and owners under prefix and lists the moves in progress among
// ids (the shared locations). It reads one consistent revision; it writes nothing.
func ReadStatus(ctx context.Context, cli *clientv3.Client, prefix string, ids []string) (Status, error) {
	members, owners, err := readState(ctx, cli, prefix)
	if err != nil {
		return Status{}, err
	}
	st := Status{Members: members, Owners: owners}
	names := memberNames(members)
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	for _, id := range sorted {
		if want := Assign(id, names); owners[id] != want {
			st.Moves = append(st.Moves, Move{Location: id, From: owners[id], To: want})
		}
	}
	return st, nil
}
