package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// decodeDeletes reads the deletes block into cfg.Deletes and returns the policy attribute
// (nil when the file leaves the default), which the capability checks point at.
func (d *decoder) decodeDeletes(b *hcl.Block, cfg *Config) *hcl.Attribute {
	c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("policy", "confirmations", "tag", "max_share", "max_count")})
	policy := d.enum(c.Attributes, "policy", &cfg.Deletes.Policy, DeleteIgnore, DeletePrintOnly, DeleteTag, DeleteDelete)
	d.intAttr(c.Attributes, "confirmations", 1, &cfg.Deletes.Confirmations)
	d.nonEmpty(c.Attributes, "tag", &cfg.Deletes.Tag)
	d.share(c.Attributes, "max_share", &cfg.Deletes.MaxShare)
	d.intAttr(c.Attributes, "max_count", 1, &cfg.Deletes.MaxCount)
	return policy
}

// share sets *dst to a fraction in (0, 1] ("0.5" is half).
func (d *decoder) share(attrs hcl.Attributes, name string, dst *float64) *hcl.Attribute {
	v, attr, ok := d.typed(attrs, name, cty.Number)
	if !ok {
		return nil
	}
	f, _ := v.AsBigFloat().Float64()
	if !(f > 0 && f <= 1) {
		d.errorAt(attr.Expr.Range(), "Invalid "+name, "%s must be a fraction greater than 0 and at most 1 (0.5 is half), got %s", name, v.AsBigFloat().Text('g', -1))
		return nil
	}
	*dst = f
	return attr
}
