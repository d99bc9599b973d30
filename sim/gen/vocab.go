package gen

// Vocabulary the generator draws from. These slices are never modified.

type place struct{ city, state, country, tz, postal string }

var places = []place{
	{"Austin", "TX", "US", "America/Chicago", "7%04d"},
	{"Denver", "CO", "US", "America/Denver", "8%04d"},
	{"Brooklyn", "NY", "US", "America/New_York", "1%04d"},
	{"Seattle", "WA", "US", "America/Los_Angeles", "9%04d"},
	{"Miami", "FL", "US", "America/New_York", "3%04d"},
	{"Chicago", "IL", "US", "America/Chicago", "6%04d"},
	{"San Diego", "CA", "US", "America/Los_Angeles", "9%04d"},
	{"Boston", "MA", "US", "America/New_York", "0%04d"},
	{"Phoenix", "AZ", "US", "America/Phoenix", "8%04d"},
	{"London", "", "GB", "Europe/London", "SW%d 2AB"},
	{"Manchester", "", "GB", "Europe/London", "M%d 3HQ"},
}

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
	"Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
	"Sarah", "Chris", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
	"Mark", "Sandra", "Olivia", "Liam", "Emma", "Noah", "Ava", "Sophia", "Mia", "Lucas",
	"Isabella", "Ethan", "Zoë", "José", "Chloé", "Aaliyah", "Priya", "Wei", "Hiroshi",
	"Fatima", "Mateo", "Siobhan", "Ngozi", "Dmitri", "Ana", "Kai", "Leila", "Omar",
	"Freya", "Connor", "Maya", "Tyrone", "Jasmine",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
	"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
	"Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
	"Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "O'Brien", "McDonald",
	"Nguyen", "Patel", "Kim", "Chen", "Okafor", "Müller", "Kowalski", "Rossi", "Silva",
	"Van der Berg", "Ivanova", "Haddad", "Singh", "Murphy", "Walsh", "Fernández", "Cohen",
	"Nakamura",
}

var domains = []string{
	"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me",
	"aol.com", "fitmail.co", "example.com", "company.co.uk",
}

var companies = []string{
	"Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
	"Hooli", "Pied Piper", "Vandelay Industries", "Soylent Co", "Iron Gym", "Peak Performance LLC",
	"Blue Sky Dental", "Northwind Traders", "Contoso Ltd",
}

var streets = []string{
	"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Rd", "High St",
	"Sunset Blvd", "2nd Ave", "Lake View Rd",
}

var sources = []string{
	"website form", "facebook lead ad", "instagram", "referral", "walk-in", "google ads",
	"webinar", "import", "api",
}

var goals = []string{
	"lose 10 lbs", "build muscle", "run a marathon", "improve mobility", "get stronger",
	"post-natal fitness", "general health", "compete in powerlifting",
}

var injuries = []string{"lower back", "left knee", "shoulder impingement", "none reported", "ankle sprain"}

var taskTitles = []string{
	"Follow up call", "Send meal plan", "Check-in message", "Renewal reminder",
	"Book assessment", "Update program", "Collect progress photos", "Send invoice",
}

var taskBodies = []string{
	"", "Ask about sleep and recovery.", "Discuss package upgrade.",
	"Remind about the 12-week check-in.", "Confirm next session time.",
}

var noteTitles = []string{"", "Call notes", "Assessment", "Nutrition", "Progress"}

var noteBodies = []string{
	"Prefers morning sessions.", "Has a gym membership at work.",
	"Interested in the nutrition add-on.", "Left knee sensitive on deep squats.",
	"Referred by a friend; wants to train together.", "Travelling next month, switch to online plan.",
	"Very motivated, aims for 4 sessions per week.",
}

var apptTitles = []string{"PT session", "Initial assessment", "Progress review", "Nutrition consult", "Group class"}

// Tags returns a copy of the tag vocabulary.
func Tags() []string { return append([]string(nil), tagVocabulary...) }

// CustomFieldKeys returns, in a stable order, the custom field keys people may carry.
func CustomFieldKeys() []string { return append([]string(nil), customFieldKeys...) }
