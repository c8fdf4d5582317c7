// Package cluster runs several schedulers as one: they campaign in an etcd
// election, the leader alone runs the engine, and every group commit of
// its store is written to etcd in a transaction fenced by its election
// revision before the writers are told. A leader that lost its lease (it
// froze, or lost etcd) cannot write there any more, whatever it believes:
// the fence refuses the transaction, and it steps down. A standby that
// wins rebuilds its bbolt file from etcd and starts the engine, whose
// start-up recovery then treats the old leader's attempts in flight and
// the occurrences that fell in the gap as after a crash.
//
// The election and the fence are etcd's (concurrency.Election, Txn with a
// CreateRevision compare), not ours: a home-made lease on top of a store
// is where the failover bugs of other schedulers live.
//
// Keys, under Options.Prefix (default /schedulezero):
//
//	PREFIX/leader/<lease>          the election (value: Member, JSON)
//	PREFIX/schedules/<id>          store.ReplicaSchedules, the store's encoding
//	PREFIX/states/<id>             firing states
//	PREFIX/executions/<key>        attempt records (key: the store's binary key)
//	PREFIX/notifications/<id>      queued notifications
//	PREFIX/handlers/<id>           handler records (their protocol decides recovery)
package cluster
