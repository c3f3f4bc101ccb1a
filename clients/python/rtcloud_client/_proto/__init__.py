"""Generated gRPC stubs of proto/rtcloud/project/v1/api.proto.

Made by scripts/gen_python_stubs.sh; never edit the api_pb2* files by hand.
"""
