package ledger

// Ready reports whether an Append would be accepted now: the ledger is
// open, no earlier commit failed, and its file system is writable with
// the free-space reserve (Options.MinFreeBytes) left. It writes nothing,
// so a health probe may call it as often as it likes.
func (l *Log) Ready() error {
	if err := l.unavailable(); err != nil {
		return err
	}
	return checkWritable(l.dir, l.opts.MinFreeBytes)
}
