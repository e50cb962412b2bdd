// A small OpenID Connect provider for the Playwright suite, on loopback: discovery, JWKS, an
// authorization endpoint that approves at once (checking PKCE's method) and a token endpoint that
// checks the client secret and PKCE, signing ES256 ID tokens with a key it makes at start.
// The one user it signs in: "sso-e2e", in the group "oncall".
import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 18097);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "e2e", alg: "ES256", use: "sig" };
const codes = new Map();
const b64 = (b) => Buffer.from(b).toString("base64url");

function idToken(claims) {
  const head = b64(JSON.stringify({ alg: "ES256", typ: "JWT", kid: "e2e" }));
  const body = b64(JSON.stringify(claims));
  const sig = createSign("SHA256").update(`${head}.${body}`).sign({ key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${head}.${body}.${b64(sig)}`;
}

function json(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === "/health") return json(res, 200, { ok: true });
  if (url.pathname === "/.well-known/openid-configuration") {
    return json(res, 200, { issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
      response_types_supported: ["code"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["ES256"] });
  }
  if (url.pathname === "/jwks") return json(res, 200, { keys: [jwk] });
  if (url.pathname === "/authorize") {
    const q = url.searchParams;
    if (q.get("client_id") !== "charon-e2e" || q.get("code_challenge_method") !== "S256") return json(res, 400, { error: "invalid_request" });
    const code = randomBytes(16).toString("hex");
    codes.set(code, { nonce: q.get("nonce"), challenge: q.get("code_challenge"), redirect: q.get("redirect_uri") });
    res.writeHead(303, { location: `${q.get("redirect_uri")}?code=${code}&state=${encodeURIComponent(q.get("state"))}` });
    return res.end();
  }
  if (url.pathname === "/token" && req.method === "POST") {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const f = new URLSearchParams(body);
      const basic = `Basic ${Buffer.from("charon-e2e:e2e-client-secret").toString("base64")}`;
      if (req.headers.authorization !== basic) return json(res, 401, { error: "invalid_client" });
      const c = codes.get(f.get("code"));
      codes.delete(f.get("code"));
      if (!c || b64(createHash("sha256").update(f.get("code_verifier") ?? "").digest()) !== c.challenge || f.get("redirect_uri") !== c.redirect) {
        return json(res, 400, { error: "invalid_grant" });
      }
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: issuer, aud: "charon-e2e", sub: "e2e-subject", iat: now, exp: now + 300, nonce: c.nonce, preferred_username: "sso-e2e", groups: ["oncall"] };
      return json(res, 200, { id_token: idToken(claims), access_token: "unused", token_type: "Bearer" });
    });
    return;
  }
  json(res, 404, { error: "not found" });
}).listen(port, "127.0.0.1");
