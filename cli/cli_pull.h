/* cli_pull: the model cache commands — vlp pull (cmd_pull.c), vlp models and vlp info
 * (cmd_models.c). */
#ifndef VLP_CLI_PULL_H
#define VLP_CLI_PULL_H

int cmd_pull(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif
