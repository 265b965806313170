/* pull_none: vlp_pull in a build without libcurl (cmake -DVLP_WITH_HUB=OFF). Models are
 * still found in the cache and in folders; only downloading is missing. */
#include "core/error.h"
#include "vlp.h"

vlp_status vlp_pull(const char *repo_id, const vlp_pull_options *opts, vlp_pull_result *out) {
  (void)opts;
  if (out) *out = (vlp_pull_result){0};
  return vlp_fail(VLP_ERR_UNSUPPORTED,
                  "cannot download %.200s: this vlp was built without libcurl "
                  "(VLP_WITH_HUB=OFF); copy the model folder by hand and pass it with -m",
                  repo_id ? repo_id : "(null)");
}
