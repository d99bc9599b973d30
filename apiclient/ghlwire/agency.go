package ghlwire

// The agency (Company) side of HighLevel's OAuth, as apps/oauth.json and the webhook docs
// (AppInstall.md, AppUninstall.md) define it: a Company token pair from the authorization-code
// exchange with user_type=Company, the listing of the locations the app is installed on, and
// location tokens minted from the Company token.

// Token classes: the userType of a token response and the user_type of a token request.
const (
	UserTypeLocation = "Location"
	UserTypeCompany  = "Company"
)

// Scopes of the agency routes (security Agency-Access-Only).
const (
	ScopeOAuthReadonly = "oauth.readonly" // GET /oauth/installedLocations
	ScopeOAuthWrite    = "oauth.write"    // POST /oauth/locationToken
)

// Messages HighLevel answers when a token does not fit the request.
const (
	// MsgNoLocationAccess is the 403 for a location token used on another location's data.
	MsgNoLocationAccess = "The token does not have access to this location."
	// MsgAuthClass is the 401 for a token of the wrong class: a Company token on a location's
	// route, or a Location token on an agency-only one.
	MsgAuthClass = "This authClass type is not allowed to access this scope."
)

// InstalledLocation is one row of GET /oauth/installedLocations (InstalledLocationSchema).
type InstalledLocation struct {
	ID          string `json:"_id"`
	Name        string `json:"name"`
	Address     string `json:"address"`
	IsInstalled bool   `json:"isInstalled"`
	VersionID   string `json:"versionId,omitempty"`
	// InstalledAt is ISO-8601, present while the app is installed.
	InstalledAt string `json:"installedAt,omitempty"`
}

// InstalledLocationsResponse is the 200 body of GET /oauth/installedLocations
// (GetInstalledLocationsSuccessfulResponseDto). Count is the number of locations that match
// the query before skip and limit apply.
type InstalledLocationsResponse struct {
	Locations                []InstalledLocation `json:"locations"`
	Count                    int                 `json:"count"`
	InstallToFutureLocations bool                `json:"installToFutureLocations"`
}

// LocationTokenResponse is the 200 body of POST /oauth/locationToken
// (GetLocationAccessTokenSuccessfulResponseDto). It carries no refresh token: a location token
// minted from a Company token is minted again, not refreshed.
type LocationTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	LocationID  string `json:"locationId"`
	PlanID      string `json:"planId,omitempty"`
	UserID      string `json:"userId"`
	AppID       string `json:"appId,omitempty"`
	VersionID   string `json:"versionId,omitempty"`
}

// App webhook event types (the type field of AppInstall and AppUninstall).
const (
	EventAppInstall   = "INSTALL"
	EventAppUninstall = "UNINSTALL"
)

// AppEvent is the body of an AppInstall or AppUninstall webhook. A location-level event names
// LocationID; an agency-level one only CompanyID. Timestamp and WebhookID are the envelope
// every webhook carries for replay protection (WebhookAuthentication.md).
type AppEvent struct {
	Type                string             `json:"type"`
	AppID               string             `json:"appId"`
	CompanyID           string             `json:"companyId,omitempty"`
	LocationID          string             `json:"locationId,omitempty"`
	UserID              string             `json:"userId,omitempty"`
	PlanID              string             `json:"planId,omitempty"`
	IsWhitelabelCompany *bool              `json:"isWhitelabelCompany,omitempty"`
	WhitelabelDetails   *WhitelabelDetails `json:"whitelabelDetails,omitempty"`
	CompanyName         string             `json:"companyName,omitempty"`
	Timestamp           string             `json:"timestamp,omitempty"`
	WebhookID           string             `json:"webhookId,omitempty"`
}

// WhitelabelDetails is AppInstall's whitelabelDetails; empty for a company that is not
// white-labelled.
type WhitelabelDetails struct {
	Domain  string `json:"domain,omitempty"`
	LogoURL string `json:"logoUrl,omitempty"`
}

// AppIDOf returns the marketplace app id of an OAuth client id: HighLevel's client ids are
// "<appId>-<suffix>" (the official SDK compares a webhook's appId with this prefix). A client
// id without a dash is its own app id.
func AppIDOf(clientID string) string {
	for i := 0; i < len(clientID); i++ {
		if clientID[i] == '-' {
			return clientID[:i]
		}
	}
	return clientID
}
