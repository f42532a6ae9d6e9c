package secret

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Test credentials are assembled at run time so that this file holds no
// string that secret scanners (including this one) would flag.
var (
	awsKeyID     = "AKIA" + "Z7Q2WXK4N5P3R6T7"
	awsSecret    = "q8Zt3" + strings.Repeat("Xk9/Lm2+Pw", 3) + "Ab7Yz"
	githubToken  = "ghp_" + strings.Repeat("a1B2c3D4e5", 3) + "F6g7H8"
	githubPAT    = "github_pat_" + strings.Repeat("11ABCDEFG0", 8) + "xy"
	gitlabToken  = "glpat-" + "x7Yz_3kLm9Pq2Rs4Tv6W"
	slackToken   = "xoxb-" + "123456789012-123456789012-" + strings.Repeat("aB3d", 6)
	slackHook    = "https://hooks.slack.com/services/" + "T0123ABCD/B0456EFGH/" + strings.Repeat("x1Y2", 6)
	stripeKey    = "sk_" + "live_" + strings.Repeat("4eC39HqLy", 3)
	npmToken     = "npm_" + strings.Repeat("Ab1Cd2Ef3G", 3) + "h4Ij5K"
	jwtToken     = "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0" + "." + strings.Repeat("dBjftJeZ4CVP", 3)
	azureKey     = strings.Repeat("Zm9vYmFyYmF6", 7) + "Qk" + "=="
	pemBody      = strings.Repeat("MIIEowIBAAKCAQEAx", 4)
	privateKey   = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + pemBody + "\n" + pemBody + "\n-----END RSA PRIVATE KEY-----\n"
	gcpKeyFile   = `{"type": "service_account", "project_id": "demo", "private_key": "-----BEGIN ` + `PRIVATE KEY-----\n` + pemBody + `\n-----END PRIVATE KEY-----\n"}`
	encryptedKey = "-----BEGIN RSA " + "PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,ABCDEF\n\n" + pemBody + "\n-----END RSA PRIVATE KEY-----\n"
)

func TestScanTextFinds(t *testing.T) {
	tests := []struct {
		name, text, kind string
		line             int
	}{
		{"pem rsa key", "# key\n" + privateKey, "private-key", 2},
		{"pem encrypted key", "\n\n" + encryptedKey, "private-key", 3},
		{"pem openssh key", "-----BEGIN OPENSSH " + "PRIVATE KEY-----\n" + pemBody + "\n", "private-key", 1},
		{"gcp service account json", gcpKeyFile, "gcp-service-account-key", 1},
		{"aws access key id", "aws_access_key_id = " + awsKeyID, "aws-access-key-id", 1},
		{"aws session key id", "ASIA" + "Z7Q2WXK4N5P3R6T7", "aws-access-key-id", 1},
		{"aws secret key", "x\naws_secret_access_key = " + awsSecret + "\n", "aws-secret-access-key", 2},
		{"aws secret key json", `{"SecretAccessKey": "` + awsSecret + `"}`, "aws-secret-access-key", 1},
		{"azure connection string", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + azureKey + ";EndpointSuffix=core.windows.net", "azure-storage-key", 1},
		{"azure sas", "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01&sig=" + strings.Repeat("AbCd%2B", 6), "azure-sas-token", 1},
		{"github classic token", "token: " + githubToken, "github-token", 1},
		{"github fine-grained token", githubPAT, "github-token", 1},
		{"gitlab token", "GITLAB=" + gitlabToken, "gitlab-token", 1},
		{"slack bot token", slackToken, "slack-token", 1},
		{"slack webhook", "url: " + slackHook, "slack-webhook", 1},
		{"stripe live key", stripeKey, "stripe-key", 1},
		{"npm token", "//registry.npmjs.org/:_authToken=" + npmToken, "npm-token", 1},
		{"npmrc legacy auth", "//registry.example.org/:_authToken=a8f9c2e7d1b34f5a", "npm-token", 1},
		{"jwt", "Authorization: Bearer " + jwtToken, "jwt", 1},
		{"url basic auth", "DATABASE_URL=postgres://app:S3cure-pw@db:5432/app", "url-credentials", 1},
		{"password yaml", "db:\n  password: hunter2!\n", "password-assignment", 2},
		{"password json", `{"dbPassword": "Tr0ub4dor&3"}`, "password-assignment", 1},
		{"password ini", "[db]\npasswd=correcthorse", "password-assignment", 2},
		{"api key assignment", `API_KEY="f3a9c1d7e5b2"`, "secret-assignment", 1},
		{"client secret go", `clientSecret := "s8d7f6g5h4j3"`, "secret-assignment", 1},
		// Case-insensitive expressions match the Kelvin sign as k and the
		// long s as s: the keyword filter must not skip them.
		{"api key with kelvin sign", "API_\u212aEY=\"f3a9c1d7e5b2\"", "secret-assignment", 1},
		{"password with long s", "pa\u017fsword: hunter2!", "password-assignment", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := ScanText([]byte(tt.text))
			if len(ms) != 1 {
				t.Fatalf("ScanText found %d matches, want 1: %+v", len(ms), ms)
			}
			m := ms[0]
			if m.Kind != tt.kind || m.Line != tt.line {
				t.Errorf("got %s at line %d, want %s at line %d", m.Kind, m.Line, tt.kind, tt.line)
			}
			assertNoLeak(t, tt.text, m)
		})
	}
}

func TestScanTextIgnores(t *testing.T) {
	tests := []struct{ name, text string }{
		{"aws documentation example id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"},
		{"aws documentation example secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{"pem header without body", "-----BEGIN RSA " + "PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----"},
		{"public key", "-----BEGIN PUBLIC KEY-----\n" + pemBody + "\n-----END PUBLIC KEY-----"},
		{"certificate", "-----BEGIN CERTIFICATE-----\n" + pemBody + "\n"},
		{"password reference", "password: ${DB_PASSWORD}"},
		{"password env var", "password = $DB_PASSWORD"},
		{"password template", `password: "{{ .Values.db.password }}"`},
		{"password code", "password = config.database.password"},
		{"password call", `password = os.Getenv("DB_PASSWORD")`},
		{"password comparison", `if password == "" {`},
		{"password changeme", "password: changeme"},
		{"password placeholder", "password: <your-password>"},
		{"password stars", "password: ********"},
		{"password empty", `password: ""`},
		{"password short", "password: abc"},
		{"password block scalar", "password: |\n  line"},
		{"password on next line", "password:\n  valueFrom: x"},
		{"not a password key", "passwordPolicy: strict-mode"},
		{"compass", "compass: north-west"},
		{"boolean token setting", "automountServiceAccountToken: false"},
		{"secret name", "secretName: db-credentials"},
		{"url with reference", "postgres://app:${DB_PASSWORD}@db/app"},
		{"url without password", "https://user@example.com/repo.git"},
		{"url placeholder", "https://user:password@example.com/"},
		{"github word", "ghp_short"},
		{"git ssh url", "git@github.com:org/repo.git"},
		{"plain prose", "Set the password in the secret store and rotate the token monthly."},
		{"sha256 digest", "FROM alpine@sha256:" + strings.Repeat("ab12", 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ms := ScanText([]byte(tt.text)); len(ms) != 0 {
				t.Errorf("ScanText(%q) = %+v, want nothing", tt.text, ms)
			}
		})
	}
}

func TestScanTextSeveralOrderedByLine(t *testing.T) {
	text := "a=" + githubToken + "\n\n" + awsKeyID + "\n" + privateKey
	ms := ScanText([]byte(text))
	var got []string
	for _, m := range ms {
		got = append(got, m.Kind+"@"+string(rune('0'+m.Line)))
	}
	if strings.Join(got, ",") != "github-token@1,aws-access-key-id@3,private-key@4" {
		t.Errorf("got %v", got)
	}
}

func TestScanTextBounded(t *testing.T) {
	// Many matches are capped; a large input with near misses stays fast
	// because every expression is linear (RE2).
	many := strings.Repeat(awsKeyID+"\n", MaxMatches+50)
	if n := len(ScanText([]byte(many))); n != MaxMatches {
		t.Errorf("got %d matches, want the cap %d", n, MaxMatches)
	}
	nearMiss := strings.Repeat("password=$"+strings.Repeat("a", 300)+" -----BEGIN A PRIVATE KEY----- eyJ", 20000)
	if ms := ScanText([]byte(nearMiss)); len(ms) != 0 {
		t.Errorf("near misses reported: %d", len(ms))
	}
}

func TestScanKeyValue(t *testing.T) {
	tests := []struct {
		name, value string
		kind        string // "" means no match
	}{
		{"DB_PASSWORD", "hunter2", "password-assignment"},
		{"MYSQL_ROOT_PASSWORD", "root", "password-assignment"},
		{"dbPassword", "s3cr3t-value", "password-assignment"},
		{"SMTP_PASS", "mailpass1", "password-assignment"},
		{"GITHUB_TOKEN", githubToken, "github-token"},
		{"NPM_TOKEN", "literal-token-value", "secret-assignment"},
		{"STRIPE_API_KEY", "abcdef123456", "secret-assignment"},
		{"SECRET_KEY_BASE", "9f8e7d6c5b4a", "secret-assignment"},
		{"AWS_SECRET_ACCESS_KEY", awsSecret, "aws-secret-access-key"},
		{"AWS_ACCESS_KEY_ID", awsKeyID, "aws-access-key-id"},
		{"DATABASE_URL", "postgres://app:S3cure-pw@db/app", "url-credentials"},
		{"HARMLESS_NAME", slackToken, "slack-token"},
		{"TLS_KEY", privateKey, "private-key"},
		// Not secrets.
		{"DB_PASSWORD", "", ""},
		{"DB_PASSWORD", "${DB_PASSWORD}", ""},
		{"DB_PASSWORD", "$DB_PASSWORD", ""},
		{"DB_PASSWORD", "changeme", ""},
		{"DB_PASSWORD", "CHANGE_ME", ""},
		{"DB_PASSWORD", "<set at deploy time>", ""},
		{"DB_PASSWORD_FILE", "/run/secrets/db", ""},
		{"DB_PASSWORD", "/run/secrets/db", ""},
		{"TOKEN_URL", "https://auth.example.com/token", ""},
		{"SECRET_NAME", "db-credentials", ""},
		{"PASSWORD_MIN_LENGTH", "12", ""},
		{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", ""},
		{"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""},
		{"GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D", ""},
		{"PWD", "/app", ""},
		{"PASS_THROUGH", "enabled-value", ""},
		{"KEYCLOAK_VERSION", "24.0.1", ""},
		{"PATH", "/usr/local/bin:/usr/bin", ""},
		{"API_KEY", "xxxxxxxx", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			m, ok := ScanKeyValue(tt.name, tt.value)
			if tt.kind == "" {
				if ok {
					t.Errorf("ScanKeyValue reported %+v, want nothing", m)
				}
				return
			}
			if !ok || m.Kind != tt.kind || m.Line != 0 {
				t.Fatalf("ScanKeyValue = %+v, %v; want kind %s", m, ok, tt.kind)
			}
			assertNoLeak(t, tt.value, m)
		})
	}
}

func TestSecretName(t *testing.T) {
	yes := []string{"PASSWORD", "db_password", "redisPassword", "API_KEY", "apiKey", "X-Api-Key", "CLIENT_SECRET",
		"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS_JSON", "SIGNING_KEY", "DB_PASS"}
	no := []string{"", "PWD", "GPG_KEY", "KEY", "TOKEN_FILE", "SECRET_NAME", "AWS_ACCESS_KEY_ID", "PASSWORD_MIN_LENGTH",
		"MONKEY", "TOKENIZER", "PASSPORT", "KEYCLOAK_URL", "DB_USER"}
	for _, n := range yes {
		if !SecretName(n) {
			t.Errorf("SecretName(%q) = false, want true", n)
		}
	}
	for _, n := range no {
		if SecretName(n) {
			t.Errorf("SecretName(%q) = true, want false", n)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "****"},
		{"a", "****"},
		{"abc", "****"},
		{"abcd", "a****"},
		{"hunter2", "h****"},
		{"hunter22", "hu****"},
		{"AKIAZ7Q2WXK4N5P3R6T7", "AKIA****"},
		{"pässwört!", "pä****"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// assertNoLeak fails when a match could show the secret: Masked must be
// at most four characters of it and "****", and the description must be
// one of the fixed texts, never built from the input.
func assertNoLeak(t *testing.T, secret string, m Match) {
	t.Helper()
	kept, ok := strings.CutSuffix(m.Masked, "****")
	if !ok || utf8.RuneCountInString(kept) > 4 || !strings.Contains(secret, kept) {
		t.Errorf("Masked = %q, want at most 4 characters of the secret and ****", m.Masked)
	}
	fixed := false
	for _, d := range detectors() {
		fixed = fixed || d.description == m.Description
	}
	if !fixed && m.Description != "AWS secret access key" {
		t.Errorf("Description %q is not a fixed text", m.Description)
	}
}

// FuzzScanTextFastPath checks ScanText's keyword and line filters
// against running every expression over the whole text: the same matches,
// always (keywords complete, line-local expressions really line-local).
func FuzzScanTextFastPath(f *testing.F) {
	f.Add([]byte(privateKey + gcpKeyFile + "password: hunter2!\n" + awsKeyID))
	f.Add([]byte("aws_\u017fecret_key=" + awsSecret + " ACCOUNT\u212aEY=" + azureKey))
	f.Add([]byte("aws_secret_access_key = " + awsSecret + "\npassword = hunter22\n\ntoken: x1y2z3w4"))
	f.Add([]byte("aws_secret_access_key =\n  " + awsSecret + "\n//r/:_authToken =\n  a8f9c2e7d1b34f5a"))
	// The other detectors' seeds are assembled here rather than kept in
	// testdata/fuzz, for the reason given above the test credentials.
	f.Add([]byte("token: " + githubToken + "\n" + githubPAT + "\nGITLAB=" + gitlabToken + "\n" + slackToken + "\n" + stripeKey))
	f.Add([]byte(slackHook + "\nDATABASE_URL=postgres://app:S3cure-pw@db:5432/app\n?sv=2022-11-02&ss=b&sig=" + strings.Repeat("AbCd%2B", 6)))
	f.Add([]byte("//registry.npmjs.org/:_authToken=" + npmToken + "\nAuthorization: Bearer " + jwtToken))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := scanText(data, nil)
		if got := ScanText(data); !reflect.DeepEqual(got, want) {
			t.Fatalf("ScanText(%q):\n fast path %+v\n every expression %+v", data, got, want)
		}
	})
}

func TestEveryDetectorHasKeywords(t *testing.T) {
	for _, d := range detectors() {
		if len(d.keywords) == 0 {
			t.Errorf("detector %s has no keywords: ScanText would never run it", d.kind)
		}
		for _, k := range d.keywords {
			if d.fold && strings.ToLower(k) != k {
				t.Errorf("detector %s: keyword %q of a case-insensitive expression is not in lower case", d.kind, k)
			}
		}
	}
}

func FuzzScanText(f *testing.F) {
	f.Add([]byte(privateKey + gcpKeyFile + "password: hunter2!\n" + awsKeyID))
	f.Add([]byte("postgres://a:b@c password=${X} " + jwtToken))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms := ScanText(data)
		if len(ms) > MaxMatches {
			t.Fatalf("%d matches exceed the cap", len(ms))
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, m := range ms {
			if m.Line < 1 || m.Line > lines || !strings.HasSuffix(m.Masked, "****") || m.Kind == "" {
				t.Fatalf("bad match %+v", m)
			}
		}
		name, value, _ := strings.Cut(string(data), "=")
		if m, ok := ScanKeyValue(name, value); ok && len(value) >= 4 && strings.Contains(m.Masked, value) {
			t.Fatalf("ScanKeyValue leaked the value in %+v", m)
		}
	})
}
