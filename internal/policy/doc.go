// Package policy is the operator authorisation policy of the control plane:
// roles and the operations each may request per environment, which actors
// hold which roles, who must confirm a dangerous operation (role, number of
// distinct approvers, second person), the challenge window, allowed
// channels and the bounds of temporary overrides.
//
// A Policy is loaded from YAML (go.yaml.in/yaml/v3) and validated on load:
// unknown keys, unknown ops, unknown roles and bad durations are errors
// that name the line. A loaded Policy is immutable and safe for concurrent
// use. Whether an operation is dangerous is fixed by the spec and decided
// by the core; the policy only says who may confirm it (and whether a
// support bundle counts as dangerous).
package policy
