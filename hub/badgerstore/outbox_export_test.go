package badgerstore

// SetOutboxCommitHook makes every group commit of o fail with what f
// returns (nil: succeed), as a failing disk would; nil f removes it.
func SetOutboxCommitHook(o *Outbox, f func() error) {
	if f == nil {
		o.testHookCommit.Store(nil)
		return
	}
	o.testHookCommit.Store(&f)
}

// SetMigrateHook makes the move of Badger-kept records into the log fail
// with what f returns; nil f removes it.
func SetMigrateHook(f func() error) {
	if f == nil {
		testHookMigrate.Store(nil)
		return
	}
	testHookMigrate.Store(&f)
}
