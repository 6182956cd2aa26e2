package cloudlink

import "time"

// Type names a message type; it is the envelope's "type" and decides the
// body's schema and the channel the message travels on.
type Type string

// Downlink message types (signed by the cloud).
const (
	TypeBatch         Type = "batch"          // Batch on ChanBatch
	TypeSnapshotChunk Type = "snapshot_chunk" // SnapshotChunk on ChanSnapshot
	TypeResync        Type = "resync"         // Resync on ChanCommand
	TypeUnlock        Type = "unlock"         // Unlock on ChanCommand
	TypeTime          Type = "time"           // TimeHint on ChanTime
)

// Uplink message types (sent by the hub).
const (
	TypeStatus      Type = "status"       // Status on ChanStatus
	TypeAck         Type = "ack"          // Ack on ChanAck
	TypeNeed        Type = "need"         // Need on ChanNeed
	TypeActivity    Type = "activity"     // Activity on ChanActivity
	TypeDoors       Type = "doors"        // DoorsReport on ChanDoors
	TypePending     Type = "pending"      // PendingReport on ChanPending
	TypeReply       Type = "reply"        // Reply on ChanReply
	TypeSecurity    Type = "security"     // SecurityEvent on ChanSecurity
	TypeTimeRequest Type = "time_request" // TimeRequest on ChanTimeRequest
)

// Body is the body of one message type. The set is closed: exactly the
// types of this package implement it.
type Body interface {
	// MessageType is the envelope type that carries this body.
	MessageType() Type
	// check validates the body against its schema; errors wrap ErrSchema.
	check() error
}

// typeInfo is what the protocol fixes per message type.
type typeInfo struct {
	channel Channel
	newBody func() Body
	// Downlink only: the longest lifetime (expires_at - issued_at) the
	// hub accepts, the lifetime a Signer uses by default, and whether the
	// hub remembers the id until expiry (ReplayCache).
	maxLifetime     time.Duration
	defaultLifetime time.Duration
	remember        bool
}

// Lifetimes of downlink messages. Batches and snapshot chunks may wait in
// a hub's persistent session through a long outage; their replay safety is
// the version order, so their lifetime is long. Commands and time must be
// fresh, and their ids are remembered until they expire, so their lifetime
// bounds the replay cache in time.
const (
	MaxBatchLifetime      = 30 * 24 * time.Hour
	DefaultBatchLifetime  = 7 * 24 * time.Hour
	MaxResyncLifetime     = time.Hour
	DefaultResyncLifetime = 10 * time.Minute
	MaxUnlockLifetime     = 10 * time.Minute
	DefaultUnlockLifetime = time.Minute
	MaxTimeLifetime       = 5 * time.Minute
	DefaultTimeLifetime   = 30 * time.Second
)

var types = map[Type]typeInfo{
	TypeBatch: {channel: ChanBatch, newBody: func() Body { return new(Batch) },
		maxLifetime: MaxBatchLifetime, defaultLifetime: DefaultBatchLifetime},
	TypeSnapshotChunk: {channel: ChanSnapshot, newBody: func() Body { return new(SnapshotChunk) },
		maxLifetime: MaxBatchLifetime, defaultLifetime: DefaultBatchLifetime},
	TypeResync: {channel: ChanCommand, newBody: func() Body { return new(Resync) },
		maxLifetime: MaxResyncLifetime, defaultLifetime: DefaultResyncLifetime, remember: true},
	TypeUnlock: {channel: ChanCommand, newBody: func() Body { return new(Unlock) },
		maxLifetime: MaxUnlockLifetime, defaultLifetime: DefaultUnlockLifetime, remember: true},
	TypeTime: {channel: ChanTime, newBody: func() Body { return new(TimeHint) },
		maxLifetime: MaxTimeLifetime, defaultLifetime: DefaultTimeLifetime, remember: true},

	TypeStatus:      {channel: ChanStatus, newBody: func() Body { return new(Status) }},
	TypeAck:         {channel: ChanAck, newBody: func() Body { return new(Ack) }},
	TypeNeed:        {channel: ChanNeed, newBody: func() Body { return new(Need) }},
	TypeActivity:    {channel: ChanActivity, newBody: func() Body { return new(Activity) }},
	TypeDoors:       {channel: ChanDoors, newBody: func() Body { return new(DoorsReport) }},
	TypePending:     {channel: ChanPending, newBody: func() Body { return new(PendingReport) }},
	TypeReply:       {channel: ChanReply, newBody: func() Body { return new(Reply) }},
	TypeSecurity:    {channel: ChanSecurity, newBody: func() Body { return new(SecurityEvent) }},
	TypeTimeRequest: {channel: ChanTimeRequest, newBody: func() Body { return new(TimeRequest) }},
}

// Types lists every message type, downlink first, in the order of the
// protocol document.
func Types() []Type {
	return []Type{
		TypeBatch, TypeSnapshotChunk, TypeResync, TypeUnlock, TypeTime,
		TypeStatus, TypeAck, TypeNeed, TypeActivity, TypeDoors, TypePending,
		TypeReply, TypeSecurity, TypeTimeRequest,
	}
}

// Channel is the channel messages of type t travel on, or "" for an
// unknown type.
func (t Type) Channel() Channel { return types[t].channel }

// Downlink reports whether t is a message type of the cloud.
func (t Type) Downlink() bool { return types[t].channel.Downlink() }

// MaxLifetime is the longest expires_at - issued_at a hub accepts for a
// downlink type; 0 for an uplink or unknown type.
func (t Type) MaxLifetime() time.Duration { return types[t].maxLifetime }

// DefaultLifetime is the lifetime a Signer gives a downlink type unless
// told otherwise; 0 for an uplink or unknown type.
func (t Type) DefaultLifetime() time.Duration { return types[t].defaultLifetime }

// Remembered reports whether the hub remembers ids of type t until they
// expire and refuses them again (ErrReplay).
func (t Type) Remembered() bool { return types[t].remember }
