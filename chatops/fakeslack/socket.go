package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// ErrNoSocket is returned by Deliver when no Socket Mode client is
// connected.
var ErrNoSocket = errors.New("fakeslack: no socket mode connection")

// Ack is a Socket Mode acknowledgement the app sent for an envelope.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // the response payload, if any ("null" or empty when none)
	At         time.Time
}

// defaultPingInterval is how often the fake pings a Socket Mode client;
// slack-go's client reconnects when it hears no ping for 30 s.
const defaultPingInterval = 5 * time.Second

var upgrader = websocket.Upgrader{
	// The client sends Origin https://api.slack.com, as it does to Slack.
	CheckOrigin: func(*http.Request) bool { return true },
}

// openConnection answers apps.connections.open with the fake's WebSocket
// URL. Only the app-level token may open one (checked in serveAPI).
func (s *Server) openConnection(Call) (map[string]any, string) {
	s.seq++
	u := "ws" + strings.TrimPrefix(s.base, "http") + fmt.Sprintf("/socket?ticket=%d", s.seq)
	return map[string]any{"url": u}, ""
}

// serveSocket is the Socket Mode WebSocket: it says hello, pings, and
// records the acks the app sends back. A new connection replaces the
// previous one, as Slack rotates connections.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	s.mu.Lock()
	s.sock = conn
	s.connects++
	s.record(Call{Method: "socket_connect", Params: url.Values{}})
	s.mu.Unlock()
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0FAKE"}, "debug_info": map[string]any{"host": "fakeslack"}}
	if err := s.writeSocket(conn, hello); err != nil {
		s.dropSocket(conn)
		return
	}
	done := make(chan struct{})
	go s.ping(conn, done)
	s.readAcks(conn)
	close(done)
	s.dropSocket(conn)
}

func (s *Server) ping(conn *websocket.Conn, done <-chan struct{}) {
	every := s.PingInterval
	if every <= 0 {
		every = defaultPingInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// Ping at once too: the client's dead-man timer starts at connect.
		if err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
			return
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func (s *Server) readAcks(conn *websocket.Conn) {
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var a struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(b, &a) != nil || a.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		ack := Ack{EnvelopeID: a.EnvelopeID, Payload: a.Payload, At: time.Now()}
		s.acks[a.EnvelopeID] = ack
		s.record(Call{Method: "socket_ack", Params: url.Values{"envelope_id": {a.EnvelopeID}}, JSON: a.Payload})
		s.mu.Unlock()
	}
}

func (s *Server) dropSocket(conn *websocket.Conn) {
	_ = conn.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sock == conn {
		s.sock = nil
	}
}

// writeSocket serialises writes: a WebSocket has one writer at a time.
func (s *Server) writeSocket(conn *websocket.Conn, v any) error {
	s.sockWrite.Lock()
	defer s.sockWrite.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return conn.WriteJSON(v)
}

// SocketConnects returns how many Socket Mode connections the app has
// opened so far.
func (s *Server) SocketConnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Connected reports whether a Socket Mode client is connected now.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sock != nil
}

// Deliver sends an envelope of type typ ("slash_commands", "interactive",
// "events_api") with payload to the connected app and returns its
// envelope id; the app's ack is recorded under it.
func (s *Server) Deliver(typ string, payload []byte) (string, error) {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("env-%06d", s.seq)
	s.mu.Unlock()
	return id, s.deliver(id, typ, payload, 0)
}

// Redeliver sends an envelope again under the same id, as Slack retries
// one it saw no ack for in time.
func (s *Server) Redeliver(envelopeID, typ string, payload []byte) error {
	return s.deliver(envelopeID, typ, payload, 1)
}

func (s *Server) deliver(id, typ string, payload []byte, attempt int) error {
	s.mu.Lock()
	conn := s.sock
	s.mu.Unlock()
	if conn == nil {
		return ErrNoSocket
	}
	env := map[string]any{"envelope_id": id, "type": typ, "payload": json.RawMessage(payload),
		"accepts_response_payload": typ != "events_api", "retry_attempt": attempt, "retry_reason": ""}
	if attempt > 0 {
		env["retry_reason"] = "timeout"
	}
	if err := s.writeSocket(conn, env); err != nil {
		return fmt.Errorf("deliver %s: %w", typ, err)
	}
	return nil
}

// DeliverCommand delivers a slash command over Socket Mode (its payload is
// the form fields as a JSON object).
func (s *Server) DeliverCommand(c SlashCommand) (string, error) {
	m := map[string]string{}
	for k, v := range c.Form() {
		m[k] = v[0]
	}
	b, _ := json.Marshal(m)
	return s.Deliver("slash_commands", b)
}

// DeliverInteraction delivers an interactivity payload (Click.JSON,
// Submission.JSON) over Socket Mode.
func (s *Server) DeliverInteraction(payload []byte) (string, error) {
	return s.Deliver("interactive", payload)
}

// DeliverEvent delivers an Events API payload over Socket Mode.
func (s *Server) DeliverEvent(payload []byte) (string, error) {
	return s.Deliver("events_api", payload)
}

// Disconnect asks the connected app to reconnect, as Slack does before it
// rotates a connection.
func (s *Server) Disconnect() error {
	s.mu.Lock()
	conn := s.sock
	s.mu.Unlock()
	if conn == nil {
		return ErrNoSocket
	}
	return s.writeSocket(conn, map[string]any{"type": "disconnect", "reason": "refresh_requested"})
}

// AckFor returns the ack of an envelope, if the app sent one.
func (s *Server) AckFor(envelopeID string) (Ack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.acks[envelopeID]
	return a, ok
}

// WaitAck waits for the ack of an envelope until ctx ends.
func (s *Server) WaitAck(ctx context.Context, envelopeID string) (Ack, error) {
	for {
		changed := s.Changed()
		if a, ok := s.AckFor(envelopeID); ok {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return Ack{}, fmt.Errorf("wait for ack of %s: %w", envelopeID, ctx.Err())
		case <-changed:
		}
	}
}

func (s *Server) closeSocket() {
	s.mu.Lock()
	conn := s.sock
	s.sock = nil
	s.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}
