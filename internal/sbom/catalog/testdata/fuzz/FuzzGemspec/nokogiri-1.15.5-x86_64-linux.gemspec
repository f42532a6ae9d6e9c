go test fuzz v1
[]byte("# -*- encoding: utf-8 -*-\n# stub: nokogiri 1.15.5 x86_64-linux lib\n\nGem::Specification.new do |s|\n  s.name = \"nokogiri\".freeze\n  s.version = \"1.15.5\".freeze\n  s.platform = \"x86_64-linux\".freeze\n  s.licenses = [\"MIT\".freeze]\n  s.require_paths = [\"lib\".freeze]\nend\n")
