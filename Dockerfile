# syntax=docker/dockerfile:1
# Granary's container image: `granary serve` (an Orleans silo with the OpenAI-compatible HTTP API and gRPC).
#   CPU (default):  docker build -t granary:0.1.0 .
#   CUDA:           docker build --build-arg TORCH_DEVICE=cuda -t granary:0.1.0-cuda .
#                   (TorchSharp-cuda-linux brings libtorch with its CUDA libraries; the host needs only the
#                   NVIDIA driver and container toolkit; run with --gpus all and GRANARY__DEVICE=cuda)
# The shipped default model pair is inside the image; mount other Hugging Face folders and pass --model DIR.

ARG DOTNET_VERSION=10.0
# cpu or cuda: the build property -p:TorchDevice picks the TorchSharp package (Directory.Build.props).
ARG TORCH_DEVICE=cpu

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TORCH_DEVICE
WORKDIR /src
# Restore first, from the project files only, so the package layer is reused while sources change.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY src/Granary.Abstractions/Granary.Abstractions.csproj src/Granary.Abstractions/
COPY src/Granary.Model/Granary.Model.csproj src/Granary.Model/
COPY src/Granary.Engine/Granary.Engine.csproj src/Granary.Engine/
COPY src/Granary.Grains/Granary.Grains.csproj src/Granary.Grains/
COPY src/Granary.Server/Granary.Server.csproj src/Granary.Server/
RUN dotnet restore src/Granary.Server/Granary.Server.csproj -p:TorchDevice=${TORCH_DEVICE}
COPY protos/ protos/
COPY models/ models/
COPY src/ src/
RUN dotnet publish src/Granary.Server/Granary.Server.csproj -c Release --no-restore -p:TorchDevice=${TORCH_DEVICE} -o /app

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
ARG TORCH_DEVICE
# A fixed non-root uid/gid; the Helm chart's podSecurityContext runs as the same.
RUN groupadd --gid 10001 granary && useradd --uid 10001 --gid granary --no-create-home --home-dir /app --shell /usr/sbin/nologin granary
WORKDIR /app
COPY --from=build --chown=root:root /app ./
ENV GRANARY__URLS=http://0.0.0.0:8000 \
    GRANARY__GRPCURLS=http://0.0.0.0:8001 \
    DOTNET_gcServer=0 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
LABEL org.opencontainers.image.title="granary" \
      org.opencontainers.image.description="Distributed LLM inference on Orleans (OpenAI-compatible API, gRPC)" \
      ai.granary.torch-device="${TORCH_DEVICE}"
# http (OpenAI API, /health/*, /metrics), grpc, silo-to-silo, Orleans gateway
EXPOSE 8000 8001 11111 30000
USER 10001:10001
ENTRYPOINT ["/app/granary", "serve"]
