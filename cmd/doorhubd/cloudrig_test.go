package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/hub"
)

// cloudRig is an embedded broker on loopback and the test cloud on it,
// signing with a fresh key; both stop with the test.
type cloudRig struct {
	broker *brokertest.Broker
	cloud  *cloudlink.Cloud
	pub    ed25519.PublicKey
}

func startCloudRig(t testing.TB, clientID string) *cloudRig {
	t.Helper()
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	pub, priv, _ := ed25519.GenerateKey(nil)
	cloud, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: b.URL(), ClientID: clientID,
		Signer: cloudlink.NewSigner(priv), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	return &cloudRig{broker: b, cloud: cloud, pub: pub}
}

// config is a daemon config for hubID against the rig (state in STATE,
// for writeConfig; no radio; status on a loopback port).
func (r *cloudRig) config(hubID string) string {
	return fmt.Sprintf("hub_id: %s\nstate_dir: STATE\nradio:\n  port: /dev/null\nstatus:\n  listen: 127.0.0.1:0\n  socket: \"\"\n"+
		"cloud:\n  broker: %s\n  public_key: %s\n", hubID, r.broker.URL(), base64.StdEncoding.EncodeToString(r.pub))
}

// frontDoorSite is a site of one entrance that Anna opens with keycard
// 04a1b2c3, her grant started an hour ago.
func frontDoorSite() []hub.Op {
	from := time.Now().Add(-time.Hour)
	return []hub.Op{
		{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", Name: "Site", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "front", Name: "Front", Type: hub.DoorEntrance}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "building", Name: "Building", Doors: []string{"front"}}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-anna", Email: "anna@example.org"}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna", PersonID: "p-anna", KeyID: "building", StartsAt: from, Method: hub.MethodApp}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3", OwnerID: "p-anna", Active: true}},
	}
}
