package cloudlink_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/cloudlink"
)

func TestTopic(t *testing.T) {
	longest := strings.Repeat("h", cloudlink.MaxHubIDLength)
	for _, c := range cloudlink.Channels() {
		for _, id := range []string{"hub-0001", "a", "Hub_7.b", longest} {
			topic, err := cloudlink.Topic(id, c)
			if err != nil {
				t.Fatalf("Topic(%q, %s): %v", id, c, err)
			}
			if len(topic) > cloudlink.MaxTopicBytes || strings.Count(topic, "/") > cloudlink.MaxTopicSlashes {
				t.Errorf("%s breaks the broker limits", topic)
			}
			gotHub, gotCh, err := cloudlink.ParseTopic(topic)
			if err != nil || gotHub != id || gotCh != c {
				t.Errorf("ParseTopic(%s) = %q, %q, %v", topic, gotHub, gotCh, err)
			}
		}
	}
	if topic, _ := cloudlink.Topic(longest, cloudlink.ChanSnapshot); len(topic) != 94 {
		t.Errorf("the longest topic has %d bytes; the protocol document says 94", len(topic))
	}
	if f, _ := cloudlink.DownlinkFilter("hub-0001"); f != "doorhub/v1/hubs/hub-0001/down/#" {
		t.Errorf("DownlinkFilter = %s", f)
	}
	if cloudlink.UplinkFilter != "doorhub/v1/hubs/+/up/#" {
		t.Errorf("UplinkFilter = %s", cloudlink.UplinkFilter)
	}
}

func TestTopicRefuses(t *testing.T) {
	for _, id := range []string{"", "hub/1", "hub+", "hub#", "$hub", "hüb", "hub 1", "hub\n1", strings.Repeat("h", cloudlink.MaxHubIDLength+1)} {
		if topic, err := cloudlink.Topic(id, cloudlink.ChanBatch); !errors.Is(err, cloudlink.ErrSchema) {
			t.Errorf("Topic(%q) = %q, %v; want ErrSchema", id, topic, err)
		}
	}
	if _, err := cloudlink.Topic("hub-0001", "down/nothing"); !errors.Is(err, cloudlink.ErrWrongTopic) {
		t.Errorf("unknown channel: %v", err)
	}
	for _, topic := range []string{
		"",
		"doorhub/v1/hubs/hub-0001",
		"doorhub/v1/hubs/hub-0001/down",
		"doorhub/v1/hubs/hub-0001/down/nothing",
		"doorhub/v1/hubs/hub-0001/down/batch/extra",
		"doorhub/v2/hubs/hub-0001/down/batch",
		"doorhub/v1/hubs//down/batch",
		"doorhub/v1/hubs/+/up/ack",
		"doorhub/v1/hubs/hub-0001/down/#",
		"$aws/things/hub-0001/shadow/update",
		"/doorhub/v1/hubs/hub-0001/down/batch",
		"doorhub/v1/hubs/hub\x00/down/batch",
		"doorhub/v1/hubs/h\xffb/down/batch",
		"doorhub/v1/hubs/" + strings.Repeat("h", 300) + "/down/batch",
		"a/b/c/d/e/f/g/h/i",
	} {
		if h, c, err := cloudlink.ParseTopic(topic); !errors.Is(err, cloudlink.ErrWrongTopic) {
			t.Errorf("ParseTopic(%q) = %q, %q, %v; want ErrWrongTopic", topic, h, c, err)
		}
	}
}

func TestChannels(t *testing.T) {
	for _, c := range cloudlink.Channels() {
		if c.Downlink() && (c.Retained() || c.QoS() > 1) {
			t.Errorf("%s: downlink is never retained, QoS 0 or 1", c)
		}
	}
	for _, typ := range cloudlink.Types() {
		if !typ.Channel().Known() {
			t.Errorf("%s has no channel", typ)
		}
		if typ.Downlink() != (typ.MaxLifetime() > 0) {
			t.Errorf("%s: lifetime %v", typ, typ.MaxLifetime())
		}
	}
}
