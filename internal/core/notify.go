package core

// subscriber is one Subscribe channel. Sends never block the engine: a
// full buffer drops the notice and counts it, and the next notice that
// gets through carries the count.
type subscriber struct {
	ch      chan Notice
	dropped uint64
}

// Subscribe returns a channel of Notices, one per recorded event, and a
// cancel function that closes it. A subscriber that falls behind loses
// notices (Notice.Dropped says how many) but never slows the engine.
func (e *Engine) Subscribe(buf int) (<-chan Notice, func()) {
	if buf < 1 {
		buf = 1
	}
	s := &subscriber{ch: make(chan Notice, buf)}
	e.subMu.Lock()
	id := e.subID
	e.subID++
	e.subs[id] = s
	e.subMu.Unlock()
	cancel := func() {
		e.subMu.Lock()
		defer e.subMu.Unlock()
		if _, ok := e.subs[id]; ok {
			delete(e.subs, id)
			close(s.ch)
		}
	}
	return s.ch, cancel
}

func (e *Engine) publish(n Notice) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	for _, s := range e.subs {
		n := n
		n.Dropped = s.dropped
		select {
		case s.ch <- n:
			s.dropped = 0
		default:
			s.dropped++
			e.m.dropped.Inc()
		}
	}
}
