#include <iostream>

#include "mbmd/core/error.h"

int main(int argc, char** argv) {
  std::cerr << "mbmd: no command yet\n";
  return 2;
}
