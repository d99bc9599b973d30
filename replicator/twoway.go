package replicator

// BuildTwoWay builds the reconcile side for a service (Options.BuildTwoWay). Until package
// replicator/reconcile is wired here, it returns an empty TwoWay: the ptd, reconcile, push and
// reminders jobs stay unscheduled and the service says so once at start.
func BuildTwoWay(s *Service) (TwoWay, error) {
	return TwoWay{}, nil
}
