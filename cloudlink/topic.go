package cloudlink

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Prefix is the root of every doorhub topic; a hub's topics are
// Prefix/{hub_id}/{channel}.
const Prefix = "doorhub/v1/hubs"

// Limits of the protocol, those of AWS IoT Core, held on every broker.
const (
	// MaxPayload is the largest payload of any message, in bytes (128 KiB).
	MaxPayload = 128 * 1024
	// MaxTopicBytes is the longest topic, in bytes.
	MaxTopicBytes = 256
	// MaxTopicSlashes is the most '/' a topic may hold.
	MaxTopicSlashes = 7
	// MaxHubIDLength is the longest hub id; with it every topic stays
	// within MaxTopicBytes.
	MaxHubIDLength = 64
)

// Channel is the part of a topic after the hub id: a direction ("down",
// cloud to hub; "up", hub to cloud) and a name.
type Channel string

// Downlink channels (cloud to hub, subscribed with DownlinkFilter). None is
// ever retained.
const (
	ChanBatch    Channel = "down/batch"    // change batches
	ChanSnapshot Channel = "down/snapshot" // snapshot chunks
	ChanCommand  Channel = "down/command"  // resync, unlock
	ChanTime     Channel = "down/time"     // signed time
)

// Uplink channels (hub to cloud, subscribed with UplinkFilter).
const (
	ChanStatus      Channel = "up/status"   // retained availability, last will
	ChanAck         Channel = "up/ack"      // the version the hub holds
	ChanNeed        Channel = "up/need"     // what the hub misses
	ChanActivity    Channel = "up/activity" // activity events
	ChanDoors       Channel = "up/doors"    // retained door states
	ChanPending     Channel = "up/pending"  // retained pending door updates
	ChanReply       Channel = "up/reply"    // command replies
	ChanSecurity    Channel = "up/security" // refused downlink messages
	ChanTimeRequest Channel = "up/time"     // asks for signed time
)

// channelInfo is what the protocol fixes per channel.
type channelInfo struct {
	qos    byte
	retain bool
}

var channels = map[Channel]channelInfo{
	ChanBatch:       {qos: 1},
	ChanSnapshot:    {qos: 1},
	ChanCommand:     {qos: 1},
	ChanTime:        {qos: 0},
	ChanStatus:      {qos: 1, retain: true},
	ChanAck:         {qos: 1},
	ChanNeed:        {qos: 1},
	ChanActivity:    {qos: 1},
	ChanDoors:       {qos: 1, retain: true},
	ChanPending:     {qos: 1, retain: true},
	ChanReply:       {qos: 1},
	ChanSecurity:    {qos: 1},
	ChanTimeRequest: {qos: 0},
}

// Channels lists every channel, downlink first, in the order of the
// protocol document.
func Channels() []Channel {
	return []Channel{
		ChanBatch, ChanSnapshot, ChanCommand, ChanTime,
		ChanStatus, ChanAck, ChanNeed, ChanActivity, ChanDoors, ChanPending,
		ChanReply, ChanSecurity, ChanTimeRequest,
	}
}

// Known reports whether c is a channel of the protocol.
func (c Channel) Known() bool { _, ok := channels[c]; return ok }

// Downlink reports whether c carries messages from the cloud to the hub.
func (c Channel) Downlink() bool { return strings.HasPrefix(string(c), "down/") }

// QoS is the MQTT quality of service messages on c are published with.
func (c Channel) QoS() byte { return channels[c].qos }

// Retained reports whether messages on c are published retained.
func (c Channel) Retained() bool { return channels[c].retain }

// ValidateHubID checks a hub id: 1 to MaxHubIDLength letters, digits, '-',
// '_' or '.'. It is also the hub's MQTT client id, so it never holds a
// topic separator, a wildcard or '$'.
func ValidateHubID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: hub id is empty", ErrSchema)
	}
	if len(id) > MaxHubIDLength {
		return fmt.Errorf("%w: hub id longer than %d bytes", ErrSchema, MaxHubIDLength)
	}
	if !isIDString(id, true) {
		return fmt.Errorf("%w: hub id %q may hold only letters, digits, '-', '_' and '.'", ErrSchema, id)
	}
	return nil
}

// isIDString reports whether s holds only [A-Za-z0-9_-], and '.' if dot.
func isIDString(s string, dot bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || dot && c == '.') {
			return false
		}
	}
	return true
}

// Topic returns the topic of a hub's channel.
func Topic(hubID string, c Channel) (string, error) {
	if err := ValidateHubID(hubID); err != nil {
		return "", err
	}
	if !c.Known() {
		return "", fmt.Errorf("%w: unknown channel %q", ErrWrongTopic, c)
	}
	t := Prefix + "/" + hubID + "/" + string(c)
	if err := CheckTopic(t); err != nil {
		return "", err
	}
	return t, nil
}

// DownlinkFilter is the subscription of one hub: every downlink channel
// of its own.
func DownlinkFilter(hubID string) (string, error) {
	if err := ValidateHubID(hubID); err != nil {
		return "", err
	}
	return Prefix + "/" + hubID + "/down/#", nil
}

// UplinkFilter is the subscription of the cloud: every hub's uplink.
const UplinkFilter = Prefix + "/+/up/#"

// ParseTopic splits a doorhub topic into its hub id and channel. It
// returns an error wrapping ErrWrongTopic for anything else.
func ParseTopic(topic string) (hubID string, c Channel, err error) {
	if err := CheckTopic(topic); err != nil {
		return "", "", err
	}
	rest, ok := strings.CutPrefix(topic, Prefix+"/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not under %s", ErrWrongTopic, topic, Prefix)
	}
	hubID, ch, ok := strings.Cut(rest, "/")
	if !ok || ValidateHubID(hubID) != nil {
		return "", "", fmt.Errorf("%w: %q names no valid hub", ErrWrongTopic, topic)
	}
	c = Channel(ch)
	if !c.Known() {
		return "", "", fmt.Errorf("%w: %q is no doorhub channel", ErrWrongTopic, topic)
	}
	return hubID, c, nil
}

// CheckTopic checks a topic name against the broker limits the protocol
// keeps (AWS IoT Core): at most MaxTopicBytes bytes of UTF-8 and
// MaxTopicSlashes slashes, no leading '$', no wildcard, no NUL.
func CheckTopic(topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("%w: empty topic", ErrWrongTopic)
	case len(topic) > MaxTopicBytes:
		return fmt.Errorf("%w: topic longer than %d bytes", ErrWrongTopic, MaxTopicBytes)
	case strings.Count(topic, "/") > MaxTopicSlashes:
		return fmt.Errorf("%w: topic has more than %d slashes", ErrWrongTopic, MaxTopicSlashes)
	case topic[0] == '$':
		return fmt.Errorf("%w: topic starts with '$'", ErrWrongTopic)
	case strings.ContainsAny(topic, "+#\x00\n"):
		return fmt.Errorf("%w: topic holds a wildcard or a control character", ErrWrongTopic)
	case !utf8.ValidString(topic):
		return fmt.Errorf("%w: topic is not UTF-8", ErrWrongTopic)
	}
	return nil
}
