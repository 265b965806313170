/* test_pull_units: SHA-256 (FIPS 180-4 example vectors), hub ETag parsing, revision and repo
 * id checks, and -m name resolution over a fake cache (hub/sha256.c, hub/hub_files.c,
 * hub/model_cache.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub/hub.h"
#include "hub/model_cache.h"
#include "hub/sha256.h"
#include "testlib.h"

static void hash_hex(const void *p, size_t n, char hex[65]) {
  sha256_ctx c;
  uint8_t d[32];
  sha256_init(&c);
  sha256_update(&c, p, n);
  sha256_final(&c, d);
  sha256_hex(d, hex);
}

static void test_sha256(void) {
  char h[65];
  hash_hex("", 0, h);
  CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  hash_hex("abc", 3, h);
  CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  hash_hex(m448, strlen(m448), h);
  CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  const char *m896 =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmno"
      "pqrsmnopqrstnopqrstu";
  hash_hex(m896, strlen(m896), h);
  CHECK(!strcmp(h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
  /* one million 'a', fed in uneven pieces (exercises the partial-block path) */
  char *a = malloc(1000000);
  memset(a, 'a', 1000000);
  sha256_ctx c;
  uint8_t d[32];
  sha256_init(&c);
  for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 997 + 1)
    sha256_update(&c, a + off, off + step > 1000000 ? 1000000 - off : step);
  sha256_final(&c, d);
  sha256_hex(d, h);
  CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  /* lengths around the padding boundary (55, 56, 63, 64 bytes) against whole-buffer hashes
   * split in two: streaming must not change the digest */
  for (size_t n = 50; n < 70; n++) {
    char one[65], two[65];
    hash_hex(a, n, one);
    sha256_init(&c);
    sha256_update(&c, a, n / 3);
    sha256_update(&c, a + n / 3, n - n / 3);
    sha256_final(&c, d);
    sha256_hex(d, two);
    CHECK(!strcmp(one, two));
  }
  hash_hex(a, 55, h);
  CHECK(!strcmp(h, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"));
  hash_hex(a, 64, h);
  CHECK(!strcmp(h, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"));
  free(a);
  CHECK(sha256_file("data/pull/does-not-exist", h) == VLP_ERR_IO);
}

static void test_etag_and_ids(void) {
  char s[65];
  const char *sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  char q[80];
  snprintf(q, sizeof q, "\"%s\"", sha);
  CHECK(hub_sha256_from_etag(q, s) && !strcmp(s, sha));
  snprintf(q, sizeof q, "W/\"%s\"", sha);
  CHECK(hub_sha256_from_etag(q, s) && !strcmp(s, sha));
  CHECK(hub_sha256_from_etag(sha, s));
  CHECK(!hub_sha256_from_etag("\"a9993e364706816aba3e25717850c26c9cd0d89d\"", s)); /* sha1 */
  CHECK(!hub_sha256_from_etag("", s));
  snprintf(q, sizeof q, "\"%sff\"", sha);
  CHECK(!hub_sha256_from_etag(q, s));
  CHECK(cache_valid_repo_id("Salesforce/blip-image-captioning-base"));
  CHECK(cache_valid_repo_id("gpt2"));
  CHECK(!cache_valid_repo_id("a/b/c"));
  CHECK(!cache_valid_repo_id("../x"));
  CHECK(!cache_valid_repo_id("a--b/c"));
  CHECK(!cache_valid_repo_id("a/.hidden"));
  CHECK(!cache_valid_repo_id(""));
  CHECK(hub_valid_revision("main") && hub_valid_revision("refs/pr/1") &&
        hub_valid_revision("v1.0"));
  CHECK(!hub_valid_revision("../x") && !hub_valid_revision("/abs") && !hub_valid_revision("a b"));
  char dir[256];
  CHECK(cache_repo_dir("/c", "Salesforce/blip", dir, sizeof dir) == VLP_OK &&
        !strcmp(dir, "/c/models--Salesforce--blip"));
  CHECK(cache_repo_dir("/c", "bad/id/x", dir, sizeof dir) == VLP_ERR_INVALID);
  CHECK(cache_repo_dir("/c", "Salesforce/blip", dir, 10) == VLP_ERR_INVALID); /* too long */
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) fputs(text, f), fclose(f);
}

static void test_resolve(void) {
  char root[] = "/tmp/vlp_pull_units_XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char p[4096], out[4096], want[4096];
  setenv("VLP_HOME", root, 1);
  snprintf(p, sizeof p, "%s/hf", root);
  setenv("HF_HUB_CACHE", p, 1);
  snprintf(p, sizeof p, "%s/models--Org--tiny/snapshots/abc123", root);
  CHECK(cache_mkdirs(p) == VLP_OK);
  snprintf(p, sizeof p, "%s/models--Org--tiny/refs", root);
  CHECK(cache_mkdirs(p) == VLP_OK);
  snprintf(p, sizeof p, "%s/models--Org--tiny/refs/main", root);
  put(p, "abc123\n");
  snprintf(want, sizeof want, "%s/models--Org--tiny/snapshots/abc123", root);
  CHECK(vlp_resolve_model("Org/tiny", out, sizeof out) == VLP_OK && !strcmp(out, want));
  CHECK(vlp_resolve_model("tiny", out, sizeof out) == VLP_OK && !strcmp(out, want));
  CHECK(vlp_resolve_model("tiny@abc123", out, sizeof out) == VLP_OK && !strcmp(out, want));
  CHECK(vlp_resolve_model("tiny@v9", out, sizeof out) == VLP_ERR_IO);
  CHECK(strstr(vlp_last_error(), "v9") != NULL);
  /* the repo folder itself means its main snapshot */
  snprintf(p, sizeof p, "%s/models--Org--tiny", root);
  CHECK(vlp_resolve_model(p, out, sizeof out) == VLP_OK && !strcmp(out, want));
  /* an existing path is itself */
  CHECK(vlp_resolve_model(want, out, sizeof out) == VLP_OK && !strcmp(out, want));
  /* not cached: a message naming the name and the cache */
  CHECK(vlp_resolve_model("Org/other", out, sizeof out) == VLP_ERR_IO);
  CHECK(strstr(vlp_last_error(), "Org/other") && strstr(vlp_last_error(), "vlp pull"));
  /* something that is not a name stays a path (the loader reports it) */
  CHECK(vlp_resolve_model("./no/such/dir", out, sizeof out) == VLP_OK &&
        !strcmp(out, "./no/such/dir"));
  /* "tiny" in two orgs is ambiguous; ORG/NAME still works */
  snprintf(p, sizeof p, "%s/models--Else--tiny/snapshots/x", root);
  CHECK(cache_mkdirs(p) == VLP_OK);
  CHECK(vlp_resolve_model("tiny", out, sizeof out) == VLP_ERR_INVALID);
  CHECK(strstr(vlp_last_error(), "ORG/NAME") != NULL);
  CHECK(vlp_resolve_model("Org/tiny", out, sizeof out) == VLP_OK && !strcmp(out, want));
  /* a name only in the Hugging Face cache */
  snprintf(p, sizeof p, "%s/hf/models--Hf--only/snapshots/c0ffee", root);
  CHECK(cache_mkdirs(p) == VLP_OK);
  snprintf(p, sizeof p, "%s/hf/models--Hf--only/refs", root);
  CHECK(cache_mkdirs(p) == VLP_OK);
  snprintf(p, sizeof p, "%s/hf/models--Hf--only/refs/main", root);
  put(p, "c0ffee");
  snprintf(want, sizeof want, "%s/hf/models--Hf--only/snapshots/c0ffee", root);
  CHECK(vlp_resolve_model("only", out, sizeof out) == VLP_OK && !strcmp(out, want));
  /* listing: only repos with a ref, from VLP_HOME and the Hugging Face cache (issue 14) */
  vlp_cached_model *l;
  int n;
  CHECK(vlp_cache_list(&l, &n) == VLP_OK && n == 2 && !strcmp(l[0].name, "Hf/only") &&
        !strcmp(l[0].path, want) && !strcmp(l[1].name, "Org/tiny") &&
        !strcmp(l[1].revision, "main"));
  vlp_cache_list_free(l, n);
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  CHECK(system(cmd) == 0);
}

int main(void) {
  test_sha256();
  test_etag_and_ids();
  test_resolve();
  return test_done();
}
