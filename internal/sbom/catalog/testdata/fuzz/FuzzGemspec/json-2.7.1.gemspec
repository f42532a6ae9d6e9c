go test fuzz v1
[]byte("# -*- encoding: utf-8 -*-\n# stub: json 2.7.1 ruby lib\n# stub: ext/json/ext/generator/extconf.rb ext/json/ext/parser/extconf.rb\n\nGem::Specification.new do |s|\n  s.name = \"json\".freeze\n  s.version = \"2.7.1\".freeze\n  s.license = \"Ruby\".freeze\nend\n")
