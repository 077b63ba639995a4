package archiver

// SetReadHooks makes a call fn before every file is opened and after it
// was read, so tests can change it between the steps.
func SetReadHooks(a *Archiver, beforeOpen, afterRead func(path string)) {
	a.hooks = hooks{beforeOpen: beforeOpen, afterRead: afterRead}
}
