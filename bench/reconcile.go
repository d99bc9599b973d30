package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"time"

	"ptsync/config"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/sim/gen"
)

// mergeInput is one linked pair as the reconciler hands it to diff.Merge, and the same pair
// flattened to plain string maps for the baseline.
type mergeInput struct {
	base       *diff.Snapshot
	ghl, ptd   diff.Snapshot
	fb, fg, fp map[string]string
}

// benchReconcile merges sz.Pairs linked pairs field by field with the mapping ptsync ships by
// default (config.Demo's, through mapping.Specs: email, names, phone, tags, time zone),
// and compares with the plain map compare a sync without normalization or rules would do on
// the same values. The pairs are realistic: the two systems format email, phone and tags
// differently, a tenth carry a real edit on one side, a twentieth on both, a twentieth have
// no base yet.
func benchReconcile(ctx context.Context, e *env) ([]row, error) {
	cfg, err := config.Demo(config.DemoOptions{GHLURL: "http://127.0.0.1:1", PTDURL: "http://127.0.0.1:2", Dir: e.dir})
	if err != nil {
		return nil, fmt.Errorf("cannot build the default mapping: %w", err)
	}
	specs, _, err := mapping.Specs(cfg.Mapping)
	if err != nil {
		return nil, fmt.Errorf("cannot build field specs: %w", err)
	}
	opts := diff.Options{InitialWinner: diff.SidePTD, Locale: diff.Locale{Region: cfg.Mapping.PhoneRegion, Location: cfg.Mapping.Location}}
	pairs, err := buildPairs(e, specs)
	if err != nil {
		return nil, err
	}
	e.log("reconcile: built %d pairs of %d fields", len(pairs), len(specs))

	// Baseline first, then ptsync, then the baseline again: the better of the two baseline
	// runs is used, so a warm-up effect cannot flatter ptsync.
	var same int
	mapCompare := func() time.Duration {
		t0 := time.Now()
		for i := range pairs {
			p := &pairs[i]
			if maps.Equal(p.fb, p.fg) {
				same++
			}
			if maps.Equal(p.fb, p.fp) {
				same++
			}
		}
		return time.Since(t0)
	}
	base1 := mapCompare()
	var writes int
	t0 := time.Now()
	for i := range pairs {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p := &pairs[i]
		res := diff.Merge(specs, p.base, p.ghl, p.ptd, opts)
		if res.HasWrites() {
			writes++
		}
	}
	mergeDur := time.Since(t0)
	base2 := mapCompare()
	baseDur := min(base1, base2)
	_ = same

	n := float64(len(pairs))
	fields := float64(len(specs))
	mergeRate := n * fields / mergeDur.Seconds()
	baseRate := n * fields / baseDur.Seconds()
	sec := fmt.Sprintf("5 reconcile %s pairs", num(int64(len(pairs))))
	return []row{
		{Section: sec, Metric: fmt.Sprintf("field merges/s (diff.Merge, %d fields, default mapping)", len(specs)),
			Value: rate(mergeRate), Baseline: "plain map compare: " + rate(baseRate), Ratio: ratio(mergeRate, baseRate)},
		{Section: sec, Metric: "pairs merged/s (pairs needing a write)", Value: fmt.Sprintf("%s (%s)", rate(n/mergeDur.Seconds()), num(int64(writes))),
			Baseline: "map compare: " + rate(n/baseDur.Seconds()), Ratio: ratio(baseDur.Seconds(), mergeDur.Seconds())},
	}, nil
}

// buildPairs generates sz.Pairs people and derives, for each, the HighLevel and PTD values
// and the base as the reconciler would hold them.
func buildPairs(e *env, specs []diff.FieldSpec) ([]mergeInput, error) {
	g := gen.New(e.seed + 4)
	r := rand.New(rand.NewPCG(uint64(e.seed), 4))
	t0 := gen.DefaultReference()
	pairs := make([]mergeInput, 0, e.sz.Pairs)
	for range e.sz.Pairs {
		p := g.Person()
		ghlV := diff.Values{
			"email": diff.Scalar(p.Email), "firstName": diff.Scalar(p.FirstName), "lastName": diff.Scalar(p.LastName),
			"phone": diff.Scalar(p.Phone), "tags": diff.SetOf(p.Tags...), "timezone": diff.Scalar(p.Timezone),
		}
		ptdTags := make([]string, len(p.Tags))
		for i, t := range p.Tags {
			ptdTags[i] = strings.ToUpper(t[:1]) + t[1:]
		}
		ptdV := diff.Values{
			"email": diff.Scalar(gen.EmailVariant(r, p.Email)), "firstName": diff.Scalar(p.FirstName), "lastName": diff.Scalar(p.LastName),
			"phone": diff.Scalar(gen.PhoneVariant(r, p.Phone)), "tags": diff.SetOf(ptdTags...), "timezone": diff.Scalar(p.Timezone),
		}
		baseV := diff.Values{}
		for k, v := range ghlV {
			baseV[k] = v
		}
		if em, err := diff.Email(p.Email); err == nil {
			baseV["email"] = diff.Scalar(em)
		}
		if ph, err := diff.Phone(p.Phone, "US"); err == nil {
			baseV["phone"] = diff.Scalar(ph)
		}
		baseV["tags"] = diff.SetOf(diff.Tags(p.Tags)...)
		switch x := r.IntN(20); {
		case x < 2: // an edit in HighLevel
			ghlV["tags"] = diff.SetOf(append(append([]string{}, p.Tags...), "vip")...)
		case x == 2: // an edit in PTD
			ptdV["firstName"] = diff.Scalar(p.FirstName + "a")
		case x == 3: // edits on both sides
			ghlV["lastName"] = diff.Scalar(p.LastName + "-Smith")
			ptdV["lastName"] = diff.Scalar(p.LastName + "-Jones")
		}
		in := mergeInput{ghl: diff.Snapshot{Values: ghlV, UpdatedAt: t0.Add(time.Hour)}, ptd: diff.Snapshot{Values: ptdV, UpdatedAt: t0}}
		if r.IntN(20) != 0 {
			in.base = &diff.Snapshot{Values: baseV, UpdatedAt: t0.Add(-time.Hour)}
			in.fb = flat(baseV)
		} else {
			in.fb = map[string]string{}
		}
		in.fg, in.fp = flat(ghlV), flat(ptdV)
		pairs = append(pairs, in)
	}
	for _, s := range specs {
		if _, ok := pairs[0].ghl.Values[s.Name]; !ok {
			return nil, fmt.Errorf("default mapping field %q has no generated value; update bench/reconcile.go", s.Name)
		}
	}
	return pairs, nil
}

// flat turns values into the plain string map a naive sync compares.
func flat(vs diff.Values) map[string]string {
	out := make(map[string]string, len(vs))
	for k, v := range vs {
		if v.IsSet {
			out[k] = strings.Join(v.Set, ",")
		} else {
			out[k] = v.S
		}
	}
	return out
}
