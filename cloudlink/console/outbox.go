package console

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// welcome writes the welcome notification of an invitation.
func (c *Console) welcome(p *hub.Person, r Invite) {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\nYou have been invited to the building.\n", p.Name)
	switch r.Method {
	case "doorcode":
		b.WriteString("You open your doors with a daily doorcode, shown to you each day.\n")
	default:
		b.WriteString("Install the app and sign in with this email address to open your doors.\n")
	}
	fmt.Fprintf(&b, "Keys: %s\n", strings.Join(r.Keys, ", "))
	if r.Start != "" {
		fmt.Fprintf(&b, "Your access starts at %s.\n", r.Start)
	}
	if r.Expires != "" {
		fmt.Fprintf(&b, "Your access ends at %s.\n", r.Expires)
	}
	c.notify(p, "Welcome", b.String())
}

// notify writes one message as an .eml file into the outbox. A failure is
// logged: the change it tells of is applied already.
func (c *Console) notify(p *hub.Person, subject, body string) {
	if c.opts.Outbox == "" {
		return
	}
	now := c.opts.Now().UTC()
	msg := fmt.Sprintf("From: doorhub-cloud <noreply@doorhub.invalid>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s", p.Email, subject, now.Format(time.RFC1123Z),
		strings.ReplaceAll(body, "\n", "\r\n"))
	name := fmt.Sprintf("%s-%s-%s.eml", now.Format("20060102T150405.000000000Z"), slug(p.Email), slug(subject))
	if err := os.MkdirAll(c.opts.Outbox, 0o750); err == nil {
		err = os.WriteFile(filepath.Join(c.opts.Outbox, name), []byte(msg), 0o640)
		if err == nil {
			return
		}
	}
	slog.Warn("notification not written", slog.String("outbox", c.opts.Outbox), slog.String("subject", subject))
}
