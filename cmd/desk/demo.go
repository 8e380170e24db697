package main

// DefaultBot is the demo bot: the one the README's examples use.
const DefaultBot = "support@bots"

// Role is a console user role. The console has no login: the role switch in
// the page sends the chosen role in the X-Desk-Role header and the server
// grants what the role allows (enough for a demo on 127.0.0.1, not an
// authentication scheme).
type Role struct {
	// ID is the header value: "admin" or "agent".
	ID string `json:"id"`
	// Label is what the role switch shows.
	Label string `json:"label"`
	// User is the user id written as changed_by of a settings change.
	User string `json:"user"`
	// CanEditSettings is the "edit bot general settings" permission.
	CanEditSettings bool `json:"can_edit_settings"`
}

// roles are the console's roles, the first being the default.
var roles = []Role{
	{ID: "agent", Label: "Agent", User: "ana@acme"},
	{ID: "admin", Label: "Admin (can edit bot general settings)", User: "admin@acme", CanEditSettings: true},
}

// roleByID returns the role with the given id; ok is false for an unknown
// or empty id.
func roleByID(id string) (Role, bool) {
	for _, r := range roles {
		if r.ID == id {
			return r, true
		}
	}
	return Role{}, false
}

// Person is a demo agent or contact.
type Person struct {
	// ID is the agent_id or contact_id sent to sendgate.
	ID string `json:"id"`
	// Name is the display name.
	Name string `json:"name"`
	// Phone is the WhatsApp number as shown (contacts only).
	Phone string `json:"phone,omitempty"`
}

// agents are the Desk agents who may send.
var agents = []Person{
	{ID: "ana@acme", Name: "Ana Souza"},
	{ID: "bruno@acme", Name: "Bruno Lima"},
	{ID: "carla@acme", Name: "Carla Dias"},
}

// contacts are the bot's customers, with WhatsApp ids.
var contacts = []Person{
	{ID: "5531999990000@wa", Name: "Maria Silva", Phone: "+55 31 99999-0000"},
	{ID: "5511988887777@wa", Name: "João Pereira", Phone: "+55 11 98888-7777"},
	{ID: "5521977776666@wa", Name: "Fernanda Costa", Phone: "+55 21 97777-6666"},
	{ID: "5541966665555@wa", Name: "Lucas Almeida", Phone: "+55 41 96666-5555"},
}

// categories are the WhatsApp template categories an agent picks from when
// sending (or none); rules and exemptions name them.
var categories = []string{"marketing", "utility", "authentication"}

func known(list []Person, id string) bool {
	for _, p := range list {
		if p.ID == id {
			return true
		}
	}
	return false
}
