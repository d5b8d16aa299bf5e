#include "app/commands.h"

int main(int argc, char** argv) { return vigil::app::RunCli(argc, argv); }
