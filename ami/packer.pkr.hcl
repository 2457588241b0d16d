# The darkroom worker AMI: an AWS Deep Learning Base GPU AMI (NVIDIA driver, Docker and the
# NVIDIA Container Toolkit already on it) with the worker image loaded, its weights on disk,
# a systemd unit that starts the worker at boot and powers the instance off when it exits,
# and a warm-up run at build time. Build with `darkroom ami build` (docs/deploy.md):
# it runs `packer build`, reads manifest.json and writes the new AMI id to the SSM parameter
# the API's launcher reads at each launch.

packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "worker_image" {
  type        = string
  description = "The worker image (docker/worker.Dockerfile) in ECR, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/darkroom-worker:abc1234."
}

variable "git_commit" {
  type        = string
  description = "The commit the worker image was built from; tags the AMI and its snapshot."
}

variable "build_instance_type" {
  type        = string
  default     = "g4dn.xlarge"
  description = "A GPU instance, so the warm-up runs the model on the GPU it will run on."
}

variable "volume_size_gb" {
  type    = number
  default = 75
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Empty: the default VPC."
}

locals {
  ami_name = "darkroom-worker-${var.git_commit}-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  tags = {
    Name                  = "darkroom-worker"
    "darkroom:role"       = "worker"
    "darkroom:git-commit" = var.git_commit
    "darkroom:image"      = var.worker_image
  }
}

source "amazon-ebs" "worker" {
  region        = var.region
  instance_type = var.build_instance_type
  subnet_id     = var.subnet_id
  ami_name      = local.ami_name
  ssh_username  = "ubuntu"

  source_ami_filter {
    filters = {
      name                = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.volume_size_gb
    volume_type           = "gp3"
    delete_on_termination = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  # the build instance pulls the worker image from ECR; nothing else
  temporary_iam_instance_profile_policy_document {
    Version = "2012-10-17"
    Statement {
      Effect   = "Allow"
      Action   = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      Resource = ["*"]
    }
  }

  tags          = merge(local.tags, { "darkroom:base-ami" = "{{ .SourceAMI }}" })
  snapshot_tags = local.tags
  run_tags      = merge(local.tags, { Name = "darkroom-ami-build" })
}

build {
  sources = ["source.amazon-ebs.worker"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/darkroom"]
  }

  provisioner "file" {
    source      = "${path.root}/files/"
    destination = "/tmp/darkroom"
  }

  provisioner "shell" {
    environment_vars = [
      "WORKER_IMAGE=${var.worker_image}",
      "AWS_REGION=${var.region}",
    ]
    execute_command = "sudo -E bash '{{ .Path }}'"
    scripts = [
      "${path.root}/scripts/install.sh",
      "${path.root}/scripts/load-image.sh",
      "${path.root}/scripts/warm-up.sh",
      "${path.root}/scripts/cleanup.sh",
    ]
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
    custom_data = {
      git_commit   = var.git_commit
      worker_image = var.worker_image
    }
  }
}
